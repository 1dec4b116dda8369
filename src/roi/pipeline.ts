// The ROI pipeline, video in → aligned 96×96 mouth ROI out:
//   decode → track the main face (track.ts) → fill gaps (interpolate.ts) → smooth (smooth.ts)
//   → align to the reference face and cut the mouth ROI (mouth_roi.ts).
// Files are streamed (data/video_stream.ts) in two passes — track, then cut — so memory stays
// bounded for footage of any length. Landmarks of a file are cached in the per-user cache
// (<cache>/landmarks/SHA256.json, src/io/cache_dir.ts; valid for the same tracker settings),
// never beside the video or in the current directory, so re-runs skip detection.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { checkInputFile, decodeVideo, framesMissing, VideoError } from '../data/video.js';
import { readFrames } from '../data/video_stream.js';
import { type FrameWriter, writeFrames } from '../data/video_writer.js';
import { RoiError } from './errors.js';
import type { Frame, FrameStack } from './image.js';
import { fillLandmarkGaps } from './interpolate.js';
import {
  type LandmarksFile,
  landmarkCachePath,
  readCache,
  roundLandmarks,
  sha256File,
  writeLandmarksFile,
} from './landmarks_file.js';
import { type SourceWindow, cutMouthRoisStream, roiSourceWindow } from './mouth_roi.js';
import { smoothLandmarks } from './smooth.js';
import {
  type RoiOptions,
  type RoiResult,
  landmarksRecord,
  smoothWindow,
  track,
  trackerSettings,
} from './frames_roi.js';

export {
  roiFromFrames,
  landmarksForFrames,
  type RoiOptions,
  type RoiResult,
} from './frames_roi.js';

/** Map data/video.ts's "empty" outcomes to RoiError('empty-video'). */
function asEmpty(e: unknown, file: string): unknown {
  if (e instanceof VideoError && (e.kind === 'empty' || /no frames/.test(e.message)))
    return new RoiError('empty-video', e.reason, file);
  return e;
}

/** Decode a whole video file into memory (optionally resampled to `fps`); an empty one is RoiError('empty-video'). */
export async function decodeForRoi(file: string, fps?: number): Promise<FrameStack> {
  if (fps !== undefined && !(fps > 0))
    throw new RoiError('bad-args', `fps must be > 0, got ${fps}`, file);
  let v;
  try {
    v = await decodeVideo(file, fps ? { fps } : {});
  } catch (e) {
    throw asEmpty(e, file);
  }
  if (v.frames === 0) throw new RoiError('empty-video', 'the video has no frames', file);
  return v;
}

export interface StreamForRoiOptions {
  /** resample to this frame rate */
  fps?: number;
  maxSeconds?: number;
  /** the frame rate of the frames, known before the first frame */
  onFps?: (fps: number) => void;
  /** after the last frame: decoded vs promised frame counts */
  onEnd?: (decoded: number, expected: number) => void;
  /** decode only this part of each frame (ffmpeg crop, exact RGB pixels of the whole frame) */
  window?: SourceWindow;
}

/** Frames of a file, streamed by the one frame reader (upright, size-capped); errors as decodeForRoi's. */
export async function* streamForRoi(
  file: string,
  o: StreamForRoiOptions = {},
): AsyncGenerator<Frame> {
  if (o.fps !== undefined && !(o.fps > 0))
    throw new RoiError('bad-args', `fps must be > 0, got ${o.fps}`, file);
  let reader;
  try {
    const w = o.window;
    reader = await readFrames(file, {
      fps: o.fps,
      maxSeconds: o.maxSeconds,
      onEnd: o.onEnd,
      // converted to RGB whole, then cropped: the same bytes as cropping decoded frames
      filters: w ? ['format=rgb24', `crop=${w.width}:${w.height}:${w.x}:${w.y}:exact=1`] : [],
    });
  } catch (e) {
    throw asEmpty(e, file);
  }
  o.onFps?.(reader.fps());
  try {
    yield* reader.frames();
  } catch (e) {
    throw asEmpty(e, file);
  }
}

/**
 * Landmarks of a video file, from the landmark cache when it holds this content and tracker
 * settings, else computed (streaming) and cached. No ROI is cut, so a face near the edge is
 * no error here — the input of `prepare --crop landmarks`. `onFps` hears the frame rate before
 * the first frame is tracked (not called for cached landmarks).
 */
export async function landmarksForVideo(
  file: string,
  o: RoiOptions = {},
  keep?: KeptFrames,
  onFps?: (fps: number) => void,
): Promise<{ info: LandmarksFile; cached: boolean }> {
  if (o.fps !== undefined && !(o.fps > 0))
    throw new RoiError('bad-args', `fps must be > 0, got ${o.fps}`, file);
  try {
    await checkInputFile(file); // missing, not a file, 0 bytes
  } catch (e) {
    throw asEmpty(e, file);
  }
  const useCache = o.cache ?? true;
  const sha = await sha256File(file);
  const tracker = trackerSettings(o);
  const smooth = smoothWindow(o);
  const cacheFile = landmarkCachePath(sha);
  let info: LandmarksFile | null = null;
  if (useCache) {
    info = await readCache(cacheFile, sha, tracker);
    if (info && info.smooth !== smooth) {
      // same tracking, other smoothing: redo only the cheap part
      const { landmarks } = fillLandmarkGaps(info.raw);
      info = { ...info, smooth, landmarks: smoothLandmarks(landmarks, smooth).map(roundLandmarks) };
    }
  }
  const cached = info !== null;
  if (!info) {
    let fps = o.fps ?? 0;
    const onEnd = (decoded: number, expected: number) => {
      if (framesMissing(decoded, expected)) o.onIncomplete?.(decoded, expected);
    };
    const frames = streamForRoi(file, {
      fps: o.fps,
      maxSeconds: o.maxSeconds,
      onEnd,
      onFps: (f) => {
        if (!fps) fps = f;
        onFps?.(fps);
      },
    });
    const tr = await track(keep ? keep.tee(frames) : frames, o);
    info = landmarksRecord(tr, o, file, sha, fps || 25);
    // a cache that cannot be written (read-only home, disk full) only costs the next run's time
    if (useCache) await writeLandmarksFile(cacheFile, info).catch(() => {});
  }
  return { info, cached };
}

/** Frames of the tracking pass kept for cutting, while they fit in KEEP_BYTES. */
export class KeptFrames {
  frames: Frame[] | null = [];
  private bytes = 0;
  constructor(private readonly limit = KEEP_BYTES) {}
  async *tee(source: AsyncIterable<Frame>): AsyncGenerator<Frame> {
    for await (const f of source) {
      if (this.frames) {
        this.bytes += f.data.length;
        if (this.bytes <= this.limit) this.frames.push(f);
        else this.frames = null; // too long to hold: cut from a second decode
      }
      yield f;
    }
  }
}

/** Decoded frames up to this size are kept from the tracking pass for cutting (one decode instead of two). */
export const KEEP_BYTES = 256 * 2 ** 20;

async function* listFrames(frames: Frame[]): AsyncGenerator<Frame> {
  yield* frames;
}

/**
 * Mouth ROI of a video file, using / filling the landmark cache. One decode when the frames
 * fit in `keepBytes` (KEEP_BYTES; 256×256 RGB: ~1300 frames, 52 s at 25 fps); longer footage
 * (and cached landmarks) is streamed twice — track, then cut — so memory stays bounded, and
 * the cutting pass decodes only the part of the frames the ROIs cover (roiSourceWindow).
 */
export async function roiFromVideo(
  file: string,
  o: RoiOptions = {},
  keepBytes = KEEP_BYTES,
): Promise<RoiResult> {
  return roiOfVideo(file, o, keepBytes);
}

/**
 * roiFromVideo, with the ROI clip written to `out` (H.264 mp4 through data/video_writer.ts:
 * a temporary name renamed when done, removed on failure). The encoder process starts as soon
 * as the frame rate is known — before tracking — so its start-up and most of its work overlap
 * the tracking instead of following it (about a twentieth of a 5-second 256×256 clip's time).
 * Where out's directory does not exist yet it starts only once the ROI is cut, so a failed
 * run makes no directory.
 */
export async function roiVideoToFile(
  file: string,
  out: string,
  o: RoiOptions = {},
  keepBytes = KEEP_BYTES,
): Promise<RoiResult> {
  let writer: Promise<FrameWriter> | null = null;
  const open = (fps: number) => {
    writer ??= writeFrames(out, {
      width: o.size ?? 96,
      height: o.size ?? 96,
      channels: (o.gray ?? true) ? 1 : 3,
      fps: fps || 25,
    });
    writer.catch(() => {}); // awaited below
  };
  const early = existsSync(path.dirname(path.resolve(out)));
  try {
    const r = await roiOfVideo(file, o, keepBytes, early ? open : undefined);
    const { rois } = r;
    open(rois.fps);
    const w = await writer!;
    const n = rois.width * rois.height * rois.channels;
    for (let t = 0; t < rois.frames; t++)
      await w.write({
        data: rois.data.subarray(t * n, (t + 1) * n),
        width: rois.width,
        height: rois.height,
        channels: rois.channels,
      });
    writer = null;
    await w.close();
    return r;
  } finally {
    if (writer) await (await (writer as Promise<FrameWriter>).catch(() => null))?.abort();
  }
}

async function roiOfVideo(
  file: string,
  o: RoiOptions,
  keepBytes: number,
  onFps?: (fps: number) => void,
): Promise<RoiResult> {
  const keep = new KeptFrames(keepBytes);
  const { info, cached } = await landmarksForVideo(file, o, keep, onFps);
  if (cached) onFps?.(info.fps);
  const kept = !cached && keep.frames && keep.frames.length === info.frames ? keep.frames : null;
  // a second decode reads only the part of the frames the ROIs cover
  const window = kept ? undefined : roiSourceWindow(info.landmarks, info.width, info.height, o);
  const whole = !window || (window.width === info.width && window.height === info.height);
  const rois = await cutMouthRoisStream(
    kept
      ? listFrames(kept)
      : streamForRoi(file, {
          fps: o.fps,
          maxSeconds: o.maxSeconds,
          window: whole ? undefined : window,
        }),
    info.landmarks,
    info.fps,
    o,
    whole ? undefined : window,
  ).catch((e) => {
    throw e instanceof RoiError && !e.file ? new RoiError(e.kind, e.message, file) : e;
  });
  return { rois, info, cached };
}
