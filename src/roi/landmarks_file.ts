// The per-clip landmarks file (JSON, format 'eflip-landmarks/1'): written by `eflip roi
// --landmarks`, kept in the per-user landmark cache (src/io/cache_dir.ts, keyed by the clip's
// SHA-256), read by `prepare --crop landmarks` (field `landmarks`: T × 68 × [x, y] pixels, gaps
// filled and smoothed — what the ROI was cut from).
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { cacheDir } from '../io/cache_dir.js';
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

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function validateLandmarksFile(j: any, where: string): LandmarksFile {
  if (!j || j.format !== LANDMARKS_FORMAT) throw new RoiError('bad-landmarks', `${where}: not an ${LANDMARKS_FORMAT} file`);
  if (!Array.isArray(j.landmarks) || j.landmarks.length !== j.frames || !j.landmarks.every(isLandmarks)) {
    throw new RoiError('bad-landmarks', `${where}: 'landmarks' must hold ${j.frames} frames of 68 [x, y] points`);
  }
  return j as LandmarksFile;
}

export async function readLandmarksFile(file: string): Promise<LandmarksFile> {
  let j: unknown;
  try {
    j = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    throw new RoiError('bad-landmarks', `cannot read landmarks ${file}: ${(e as Error).message}`);
  }
  return validateLandmarksFile(j, file);
}

/** Write atomically (temporary name, then rename). */
export async function writeLandmarksFile(file: string, data: LandmarksFile): Promise<void> {
  writeFileAtomic(file, JSON.stringify(data));
}

/** The landmark cache entry of a clip's content: <cache>/landmarks/SHA256.json (never beside the clip). */
export function landmarkCachePath(sha256: string): string {
  return path.join(cacheDir('landmarks'), `${sha256}.json`);
}

/** A cached file for this exact video content and tracker settings, or null. */
export async function readCache(cacheFile: string, sha256: string, tracker: TrackerSettings): Promise<LandmarksFile | null> {
  try {
    const j = validateLandmarksFile(JSON.parse(await fsp.readFile(cacheFile, 'utf8')), cacheFile);
    const same = j.sha256 === sha256 && JSON.stringify(j.tracker) === JSON.stringify(tracker);
    return same ? j : null;
  } catch {
    return null;
  }
}
