// The ROI pipeline, video in → aligned 96×96 mouth ROI out:
//   decode → track the main face (track.ts) → fill gaps (interpolate.ts) → smooth (smooth.ts)
//   → align to the reference face and cut the mouth ROI (mouth_roi.ts).
// Files are streamed (data/video_stream.ts) in two passes — track, then cut — so memory stays
// bounded for footage of any length. Landmarks of a file are cached in the per-user cache
// (<cache>/landmarks/SHA256.json, src/io/cache_dir.ts; valid for the same tracker settings),
// never beside the video or in the current directory, so re-runs skip detection.
import * as path from 'node:path';
import { checkInputFile, decodeVideo, framesMissing, VideoError } from '../data/video.js';
import { readFrames } from '../data/video_stream.js';
import { FaceDetector, type FaceDetectorOptions } from './detector.js';
import { RoiError } from './errors.js';
import type { Frame, FrameStack } from './image.js';
import { fillLandmarkGaps } from './interpolate.js';
import {
  type LandmarksFile,
  type TrackerSettings,
  LANDMARKS_FORMAT,
  boxTuple,
  landmarkCachePath,
  readCache,
  roundLandmarks,
  sha256File,
  writeLandmarksFile,
} from './landmarks_file.js';
import { type MouthRoiOptions, type MouthRois, cutMouthRois, cutMouthRoisStream } from './mouth_roi.js';
import { smoothLandmarks } from './smooth.js';
import { type TrackOptions, type TrackResult, trackMainFace } from './track.js';

export interface RoiOptions extends FaceDetectorOptions, MouthRoiOptions {
  /** full detection every k frames, landmark tracking in between (default 5) */
  every?: number;
  /** verify tracked crops with the tiny detector (default true) */
  verify?: boolean;
  /** landmark smoothing window in frames (default 5; 1 = off) */
  smooth?: number;
  /** resample the video to this frame rate when decoding (e.g. 25, the model's rate; default: keep) */
  fps?: number;
  /** read/write the landmark cache beside the video (default true; files only) */
  cache?: boolean;
  /** refuse videos longer than this (from the probe before decoding; VideoError 'too-long') */
  maxSeconds?: number;
  /** called when fewer frames decode than the container promises (truncated video) */
  onIncomplete?: (decoded: number, expected: number) => void;
  /** a detector to reuse across videos */
  faceDetector?: FaceDetector;
  onProgress?: TrackOptions['onProgress'];
}

export interface RoiResult {
  /** the mouth ROI clip: frames × size × size × (1|3) uint8, with per-frame transforms */
  rois: MouthRois;
  /** landmarks (and tracking facts) as written to the landmarks file */
  info: LandmarksFile;
  /** true when the landmarks came from the cache */
  cached: boolean;
}

function trackerSettings(o: RoiOptions): TrackerSettings {
  const d = o.faceDetector;
  return {
    detector: d?.detectorKind ?? o.detector ?? 'auto',
    landmarks: d?.landmarkKind ?? o.landmarks ?? 'full',
    every: Math.max(1, Math.floor(o.every ?? 5)),
    verify: o.verify ?? true,
    fps: o.fps ?? null,
  };
}

function smoothWindow(o: RoiOptions): number {
  return Math.max(1, Math.floor(o.smooth ?? 5));
}

/** Tracking result → the landmarks file record (fill gaps, smooth). */
function landmarksRecord(tr: TrackResult, o: RoiOptions, name: string, sha256: string, fps: number): LandmarksFile {
  const T = tr.frames.length;
  if (T === 0) throw new RoiError('empty-video', 'the video has no frames', name);
  const raw = tr.frames.map((f) => f.landmarks);
  if (!raw.some(Boolean)) throw new RoiError('no-face', `no face found in any of its ${T} frames (${tr.detections} detector passes)`, name);
  const { landmarks, filled } = fillLandmarkGaps(raw);
  const smooth = smoothWindow(o);
  return {
    format: LANDMARKS_FORMAT,
    video: path.basename(name),
    sha256,
    width: tr.width,
    height: tr.height,
    fps,
    frames: T,
    tracker: trackerSettings(o),
    maxFaces: tr.maxFaces,
    detections: tr.detections,
    tracked: tr.tracked,
    sources: tr.frames.map((f) => f.source),
    boxes: tr.frames.map((f) => boxTuple(f.box)),
    raw: raw.map((l) => (l ? roundLandmarks(l) : null)),
    filled,
    smooth,
    landmarks: smoothLandmarks(landmarks, smooth).map(roundLandmarks),
  };
}

async function track(source: FrameStack | AsyncIterable<Frame>, o: RoiOptions): Promise<TrackResult> {
  const tracker = trackerSettings(o);
  const det = o.faceDetector ?? (await FaceDetector.create(o));
  return trackMainFace(source, det, { every: tracker.every, verify: tracker.verify, onProgress: o.onProgress });
}

/** Landmarks for in-memory frames (no cache). `name` labels errors and the file record. */
export async function landmarksForFrames(video: FrameStack, o: RoiOptions = {}, name = '<frames>'): Promise<LandmarksFile> {
  if (video.frames === 0) throw new RoiError('empty-video', 'the video has no frames', name);
  return landmarksRecord(await track(video, o), o, name, '', video.fps);
}

function withFile<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RoiError && !e.file) throw new RoiError(e.kind, e.message, name);
    throw e;
  }
}

/** Mouth ROI for in-memory frames. */
export async function roiFromFrames(video: FrameStack, o: RoiOptions = {}, name = '<frames>'): Promise<RoiResult> {
  const info = await landmarksForFrames(video, o, name);
  return { rois: withFile(name, () => cutMouthRois(video, info.landmarks, o)), info, cached: false };
}

/** Map data/video.ts's "empty" outcomes to RoiError('empty-video'). */
function asEmpty(e: unknown, file: string): unknown {
  if (e instanceof VideoError && (e.kind === 'empty' || /no frames/.test(e.message))) return new RoiError('empty-video', e.message.slice(e.file.length + 2), file);
  return e;
}

/** Decode a whole video file into memory (optionally resampled to `fps`); an empty one is RoiError('empty-video'). */
export async function decodeForRoi(file: string, fps?: number): Promise<FrameStack> {
  if (fps !== undefined && !(fps > 0)) throw new RoiError('bad-args', `fps must be > 0, got ${fps}`, file);
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
  /** the frame rate of the frames, once known */
  onFps?: (fps: number) => void;
  /** after the last frame: decoded vs promised frame counts */
  onEnd?: (decoded: number, expected: number) => void;
}

/** Frames of a file, streamed by the one frame reader (upright, size-capped); errors as decodeForRoi's. */
export async function* streamForRoi(file: string, o: StreamForRoiOptions = {}): AsyncGenerator<Frame> {
  if (o.fps !== undefined && !(o.fps > 0)) throw new RoiError('bad-args', `fps must be > 0, got ${o.fps}`, file);
  let reader;
  try {
    reader = await readFrames(file, { fps: o.fps, maxSeconds: o.maxSeconds, onEnd: o.onEnd });
  } catch (e) {
    throw asEmpty(e, file);
  }
  try {
    yield* reader.frames();
  } catch (e) {
    throw asEmpty(e, file);
  }
  o.onFps?.(reader.fps());
}

/**
 * Landmarks of a video file, from the landmark cache when it holds this content and tracker
 * settings, else computed (streaming) and cached. No ROI is cut, so a face near the edge is
 * no error here — the input of `prepare --crop landmarks`.
 */
export async function landmarksForVideo(file: string, o: RoiOptions = {}): Promise<{ info: LandmarksFile; cached: boolean }> {
  if (o.fps !== undefined && !(o.fps > 0)) throw new RoiError('bad-args', `fps must be > 0, got ${o.fps}`, file);
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
    const onEnd = (decoded: number, expected: number) => { if (framesMissing(decoded, expected)) o.onIncomplete?.(decoded, expected); };
    const tr = await track(streamForRoi(file, { fps: o.fps, maxSeconds: o.maxSeconds, onEnd, onFps: (f) => { if (!fps) fps = f; } }), o);
    info = landmarksRecord(tr, o, file, sha, fps || 25);
    // a cache that cannot be written (read-only home, disk full) only costs the next run's time
    if (useCache) await writeLandmarksFile(cacheFile, info).catch(() => {});
  }
  return { info, cached };
}

/** Mouth ROI of a video file (streamed twice: track, then cut), using / filling the landmark cache. */
export async function roiFromVideo(file: string, o: RoiOptions = {}): Promise<RoiResult> {
  const { info, cached } = await landmarksForVideo(file, o);
  const rois = await cutMouthRoisStream(streamForRoi(file, { fps: o.fps, maxSeconds: o.maxSeconds }), info.landmarks, info.fps, o).catch((e) => {
    throw e instanceof RoiError && !e.file ? new RoiError(e.kind, e.message, file) : e;
  });
  return { rois, info, cached };
}
