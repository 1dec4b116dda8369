// The per-clip landmarks record (format 'eflip-landmarks/1'), its rounding and validation: no
// Node imports, so the browser's ROI pipeline builds the same record (files: landmarks_file.ts).
import type { FaceBox } from './detector.js';
import { RoiError } from './errors.js';
import { type Landmarks, isLandmarks } from './landmarks.js';
import type { FrameSource } from './track.js';

export const LANDMARKS_FORMAT = 'eflip-landmarks/1';

export interface TrackerSettings {
  detector: string;
  landmarks: string;
  every: number;
  verify: boolean;
  /** the frame rate the video was resampled to before tracking, null = its own */
  fps: number | null;
}

export interface LandmarksFile {
  format: typeof LANDMARKS_FORMAT;
  /** the video's file name and SHA-256 (cache key together with `tracker`) */
  video: string;
  sha256: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  tracker: TrackerSettings;
  /** most faces seen in one frame; > 1 means the main face was chosen among several */
  maxFaces: number;
  detections: number;
  tracked: number;
  /** per frame: how its raw landmarks were obtained */
  sources: FrameSource[];
  /** per frame: face box [x, y, width, height, score] or null */
  boxes: ([number, number, number, number, number] | null)[];
  /** per frame: raw landmarks, null where no face was found */
  raw: (Landmarks | null)[];
  /** frames whose landmarks were interpolated (or padded at the ends) */
  filled: number[];
  /** smoothing window (frames) applied to get `landmarks` */
  smooth: number;
  /** per frame: gap-filled, smoothed landmarks (the ROI's input) */
  landmarks: Landmarks[];
}

const r2 = (v: number) => Math.round(v * 100) / 100;
export const roundLandmarks = (lm: Landmarks): Landmarks => lm.map((p) => [r2(p[0]), r2(p[1])]);
export const boxTuple = (b: FaceBox | null): [number, number, number, number, number] | null =>
  b ? [r2(b.x), r2(b.y), r2(b.width), r2(b.height), r2(b.score)] : null;

export function validateLandmarksFile(j: any, where: string): LandmarksFile {
  if (!j || j.format !== LANDMARKS_FORMAT)
    throw new RoiError('bad-landmarks', `${where}: not an ${LANDMARKS_FORMAT} file`);
  if (
    !Array.isArray(j.landmarks) ||
    j.landmarks.length !== j.frames ||
    !j.landmarks.every(isLandmarks)
  ) {
    throw new RoiError(
      'bad-landmarks',
      `${where}: 'landmarks' must hold ${j.frames} frames of 68 [x, y] points`,
    );
  }
  return j as LandmarksFile;
}
