// Annotated video: the input frames with the face box (green), the 68 landmarks (red; mouth
// points yellow), the mouth-ROI outline (cyan) and an optional text label (e.g. the predicted
// word, drawn by ffmpeg's drawtext with a DejaVu font when one is installed).
// `eflip roi --annotate` and INFER's `eflip predict --annotate` call annotateVideo.
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeVideo } from '../data/video.js';
import type { FaceBox } from './detector.js';
import { drawDot, drawPolygon, drawRect, type Rgb } from './draw.js';
import { RoiError } from './errors.js';
import { type FrameWriter, writeFrames } from '../data/video_writer.js';
import { type Frame, type FrameStack, frameAt, toRgb } from './image.js';
import type { Landmarks } from './landmarks.js';
import { type RoiAlign, mouthRoiQuad } from './mouth_roi.js';
import { streamForRoi } from './pipeline.js';

type BoxLike = FaceBox | [number, number, number, number, number] | null;

export interface AnnotateOptions {
  /** per frame: 68 landmarks (frame pixels) or null */
  landmarks: (Landmarks | null)[];
  /** per frame: face box ({x, y, width, height} or [x, y, w, h, score]) or null */
  boxes?: BoxLike[];
  /** draw the mouth-ROI outline of this side (default 96; 0 = off) */
  roiSize?: number;
  /** alignment the ROI outline follows (default 'reference') */
  align?: RoiAlign;
  /** text drawn top-left on every frame (e.g. the predicted word) */
  label?: string;
  /** the already decoded input (skips decoding it again) */
  video?: FrameStack;
  /** decode the input resampled to this rate (must match the rate the landmarks were found at) */
  fps?: number;
}

const GREEN: Rgb = [40, 220, 60],
  RED: Rgb = [240, 40, 40],
  YELLOW: Rgb = [250, 220, 30],
  CYAN: Rgb = [30, 200, 250];

/** Draw one frame's annotations in place (RGB frame). */
export function annotateFrame(out: Frame, t: number, o: AnnotateOptions): void {
  const thick = Math.max(1, Math.round(Math.min(out.width, out.height) / 200));
  const b = o.boxes?.[t];
  if (b) {
    const [x, y, w, h] = Array.isArray(b) ? b : [b.x, b.y, b.width, b.height];
    drawRect(out, x, y, w, h, GREEN, thick);
  }
  const lm = o.landmarks[t];
  if (lm) {
    if ((o.roiSize ?? 96) > 0)
      drawPolygon(out, mouthRoiQuad(lm, o.roiSize ?? 96, o.align), CYAN, thick);
    lm.forEach((p, i) => drawDot(out, p, i >= 48 ? YELLOW : RED, thick + 1));
  }
}

/** Draw the annotations onto an RGB copy of in-memory frames. */
export function annotateFrames(video: FrameStack, o: AnnotateOptions): FrameStack {
  if (o.landmarks.length !== video.frames)
    throw new RoiError(
      'bad-args',
      `annotations cover ${o.landmarks.length} frames, the video has ${video.frames}`,
    );
  const n = video.width * video.height * 3;
  const data = new Uint8Array(video.frames * n);
  for (let t = 0; t < video.frames; t++) {
    data.set(toRgb(frameAt(video, t)).data, t * n);
    annotateFrame(
      {
        data: data.subarray(t * n, (t + 1) * n),
        width: video.width,
        height: video.height,
        channels: 3,
      },
      t,
      o,
    );
  }
  return {
    data,
    frames: video.frames,
    width: video.width,
    height: video.height,
    channels: 3,
    fps: video.fps,
  };
}

const FONT_CANDIDATES = [
  process.env.EFLIP_FONT ?? '',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf',
];

export function findFont(): string | null {
  return FONT_CANDIDATES.find((f) => f && existsSync(f)) ?? null;
}

/**
 * Write `output` (H.264 mp4): `input` with face box, landmarks, mouth-ROI outline and an
 * optional label, streamed frame by frame. Landmarks/boxes come from roiFromVideo(...).info
 * (fields `landmarks` / `boxes`) or a landmarks file; decode with the same `fps` they were
 * found at. The label needs a TrueType font (DejaVu; EFLIP_FONT overrides); without one the
 * video is written unlabelled and `labelDrawn` is false.
 */
export async function annotateVideo(
  input: string,
  output: string,
  o: AnnotateOptions,
): Promise<{ labelDrawn: boolean; frames: number }> {
  const font = o.label ? findFont() : null;
  let textDir: string | null = null;
  const filters: string[] = [];
  if (o.label && font) {
    textDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'eflip-annot-'));
    const textFile = path.join(textDir, 'label.txt');
    await fsp.writeFile(textFile, o.label);
    const esc = (p: string) => p.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/:/g, '\\:');
    filters.push(
      `drawtext=fontfile='${esc(font)}':textfile='${esc(textFile)}':expansion=none:x=8:y=8:fontsize=h/14:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=4`,
    );
  }
  let writer: FrameWriter | null = null;
  let t = 0;
  try {
    let fps = o.fps ?? 0;
    const frames: AsyncIterable<Frame> = o.video
      ? stackFrames(o.video)
      : streamForRoi(input, {
          fps: o.fps,
          onFps: (f) => {
            if (!fps) fps = f;
          },
        });
    for await (const f of frames) {
      if (t >= o.landmarks.length)
        throw new RoiError(
          'bad-args',
          `annotations cover ${o.landmarks.length} frames, the video has more`,
          input,
        );
      // streamed frames are this loop's own buffers: draw on them; in-memory ones are copied
      const rgb =
        f.channels !== 3 ? toRgb(f) : o.video ? { ...f, data: new Uint8Array(f.data) } : f;
      annotateFrame(rgb, t, o);
      writer ??= await writeFrames(output, {
        width: f.width,
        height: f.height,
        channels: 3,
        fps: o.video?.fps || o.fps || (await probeFps(input)),
        filters,
      });
      await writer.write(rgb);
      t++;
    }
    if (t !== o.landmarks.length)
      throw new RoiError(
        'bad-args',
        `annotations cover ${o.landmarks.length} frames, the video has ${t}`,
        input,
      );
    if (!writer) throw new RoiError('empty-video', 'the video has no frames', input);
    await writer.close();
    writer = null;
    return { labelDrawn: filters.length > 0, frames: t };
  } finally {
    if (writer) await writer.abort();
    if (textDir) await fsp.rm(textDir, { recursive: true, force: true });
  }
}

async function* stackFrames(v: FrameStack): AsyncGenerator<Frame> {
  for (let t = 0; t < v.frames; t++) yield frameAt(v, t);
}

async function probeFps(file: string): Promise<number> {
  return (await probeVideo(file)).fps || 25;
}
