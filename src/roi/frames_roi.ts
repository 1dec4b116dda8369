// The ROI pipeline's frame-level core, shared by Node (pipeline.ts: files through ffmpeg, the
// landmark cache) and the browser (frames from <video>/canvas): track the main face
// (track.ts) → fill gaps (interpolate.ts) → smooth (smooth.ts) → align and cut the mouth ROI
// (mouth_roi.ts). No Node imports below this file.
import { FaceDetector, type FaceDetectorOptions } from './detector.js';
import { RoiError } from './errors.js';
import type { Frame, FrameStack } from './image.js';
import { fillLandmarkGaps } from './interpolate.js';
import {
  type LandmarksFile,
  type TrackerSettings,
  LANDMARKS_FORMAT,
  boxTuple,
  roundLandmarks,
} from './landmarks_record.js';
import { type MouthRoiOptions, type MouthRois, cutMouthRois } from './mouth_roi.js';
import { smoothLandmarks } from './smooth.js';
import { DETECT_EVERY, type TrackOptions, type TrackResult, trackMainFace } from './track.js';

export interface RoiOptions extends FaceDetectorOptions, MouthRoiOptions {
  /** full detection every k frames, landmark tracking in between (default DETECT_EVERY, 25) */
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

export function trackerSettings(o: RoiOptions): TrackerSettings {
  const d = o.faceDetector;
  return {
    detector: d?.detectorKind ?? o.detector ?? 'auto',
    landmarks: d?.landmarkKind ?? o.landmarks ?? 'full',
    every: Math.max(1, Math.floor(o.every ?? DETECT_EVERY)),
    verify: o.verify ?? true,
    fps: o.fps ?? null,
  };
}

export function smoothWindow(o: RoiOptions): number {
  return Math.max(1, Math.floor(o.smooth ?? 5));
}

/** Tracking result → the landmarks file record (fill gaps, smooth). */
export function landmarksRecord(
  tr: TrackResult,
  o: RoiOptions,
  name: string,
  sha256: string,
  fps: number,
): LandmarksFile {
  const T = tr.frames.length;
  if (T === 0) throw new RoiError('empty-video', 'the video has no frames', name);
  const raw = tr.frames.map((f) => f.landmarks);
  if (!raw.some(Boolean))
    throw new RoiError(
      'no-face',
      `no face found in any of its ${T} frames (${tr.detections} detector passes)`,
      name,
    );
  const { landmarks, filled } = fillLandmarkGaps(raw);
  const smooth = smoothWindow(o);
  return {
    format: LANDMARKS_FORMAT,
    video: name.split(/[\\/]/).pop() ?? name,
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

export async function track(
  source: FrameStack | AsyncIterable<Frame>,
  o: RoiOptions,
): Promise<TrackResult> {
  const tracker = trackerSettings(o);
  const det = o.faceDetector ?? (await FaceDetector.create(o));
  return trackMainFace(source, det, {
    every: tracker.every,
    verify: tracker.verify,
    onProgress: o.onProgress,
  });
}

/** Landmarks for in-memory frames (no cache). `name` labels errors and the file record. */
export async function landmarksForFrames(
  video: FrameStack,
  o: RoiOptions = {},
  name = '<frames>',
): Promise<LandmarksFile> {
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
export async function roiFromFrames(
  video: FrameStack,
  o: RoiOptions = {},
  name = '<frames>',
): Promise<RoiResult> {
  const info = await landmarksForFrames(video, o, name);
  return {
    rois: withFile(name, () => cutMouthRois(video, info.landmarks, o)),
    info,
    cached: false,
  };
}
