// Annotated video: the input frames with the face box (green), the 68 landmarks (red; mouth
// points yellow), the mouth-ROI outline (cyan) and an optional text label (e.g. the predicted
// word, drawn by ffmpeg's drawtext with a DejaVu font when one is installed).
// `eflip roi --annotate` and INFER's `eflip predict --annotate` call annotateVideo.
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FFMPEG, VideoError, encodeVideo, runTool } from '../data/video.js';
import type { FaceBox } from './detector.js';
import { drawDot, drawPolygon, drawRect, type Rgb } from './draw.js';
import { RoiError } from './errors.js';
import { type FrameStack, frameAt, toRgb } from './image.js';
import type { Landmarks } from './landmarks.js';
import { mouthRoiQuad } from './mouth_roi.js';
import { decodeForRoi } from './pipeline.js';

type BoxLike = FaceBox | [number, number, number, number, number] | null;

export interface AnnotateOptions {
  /** per frame: 68 landmarks (frame pixels) or null */
  landmarks: (Landmarks | null)[];
  /** per frame: face box ({x, y, width, height} or [x, y, w, h, score]) or null */
  boxes?: BoxLike[];
  /** draw the mouth-ROI outline of this side (default 96; 0 = off) */
  roiSize?: number;
  /** text drawn top-left on every frame (e.g. the predicted word) */
  label?: string;
  /** the already decoded input (skips decoding it again) */
  video?: FrameStack;
  /** decode the input resampled to this rate (must match the rate the landmarks were found at) */
  fps?: number;
}

const GREEN: Rgb = [40, 220, 60], RED: Rgb = [240, 40, 40], YELLOW: Rgb = [250, 220, 30], CYAN: Rgb = [30, 200, 250];

/** Draw the annotations onto an RGB copy of the frames. */
export function annotateFrames(video: FrameStack, o: AnnotateOptions): FrameStack {
  if (o.landmarks.length !== video.frames) throw new RoiError('bad-args', `annotations cover ${o.landmarks.length} frames, the video has ${video.frames}`);
  const n = video.width * video.height * 3;
  const data = new Uint8Array(video.frames * n);
  const thick = Math.max(1, Math.round(Math.min(video.width, video.height) / 200));
  for (let t = 0; t < video.frames; t++) {
    const f = { ...toRgb(frameAt(video, t)) };
    data.set(f.data, t * n);
    const out = { data: data.subarray(t * n, (t + 1) * n), width: video.width, height: video.height, channels: 3 as const };
    const b = o.boxes?.[t];
    if (b) {
      const [x, y, w, h] = Array.isArray(b) ? b : [b.x, b.y, b.width, b.height];
      drawRect(out, x, y, w, h, GREEN, thick);
    }
    const lm = o.landmarks[t];
    if (lm) {
      if ((o.roiSize ?? 96) > 0) drawPolygon(out, mouthRoiQuad(lm, o.roiSize ?? 96), CYAN, thick);
      lm.forEach((p, i) => drawDot(out, p, i >= 48 ? YELLOW : RED, thick + 1));
    }
  }
  return { data, frames: video.frames, width: video.width, height: video.height, channels: 3, fps: video.fps };
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

/** Encode RGB frames to H.264 mp4 with a text label burnt in (ffmpeg drawtext). */
async function encodeWithLabel(file: string, v: FrameStack, label: string, font: string): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'eflip-annot-'));
  try {
    const textFile = path.join(dir, 'label.txt');
    await fsp.writeFile(textFile, label);
    const size = Math.max(14, Math.round(v.height / 14));
    const esc = (p: string) => p.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/:/g, '\\:');
    const tmp = `${file}.tmp-${process.pid}.mp4`;
    await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const r = await runTool(FFMPEG, [
      '-hide_banner', '-nostdin', '-v', 'error', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${v.width}x${v.height}`, '-r', String(v.fps || 25), '-i', 'pipe:0',
      '-vf', `drawtext=fontfile='${esc(font)}':textfile='${esc(textFile)}':x=8:y=8:fontsize=${size}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=4,pad=ceil(iw/2)*2:ceil(ih/2)*2`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-threads', '1', '-movflags', '+faststart', '-f', 'mp4', tmp,
    ], file, v.data);
    if (r.code !== 0) {
      await fsp.rm(tmp, { force: true });
      throw new VideoError('corrupt', file, `ffmpeg could not encode the annotated video: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    await fsp.rename(tmp, file);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Write `output` (mp4): `input` with face box, landmarks, mouth-ROI outline and optional label.
 * Landmarks/boxes come from roiFromVideo(...).info (fields `landmarks`/`boxes`) or a landmarks file.
 */
export async function annotateVideo(input: string, output: string, o: AnnotateOptions): Promise<{ labelDrawn: boolean }> {
  const video = o.video ?? (await decodeForRoi(input, o.fps));
  const annotated = annotateFrames(video, o);
  const font = o.label ? findFont() : null;
  if (o.label && font) {
    await encodeWithLabel(output, annotated, o.label, font);
    return { labelDrawn: true };
  }
  await encodeVideo(output, annotated.data, { frames: annotated.frames, height: annotated.height, width: annotated.width, channels: 3, fps: annotated.fps || 25 });
  return { labelDrawn: false };
}
