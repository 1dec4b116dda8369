// The per-clip landmarks file (JSON, format 'eflip-landmarks/1'): written by `eflip roi
// --landmarks`, kept in the per-user landmark cache (src/io/cache_dir.ts, keyed by the clip's
// SHA-256), read by `prepare --crop landmarks` (field `landmarks`: T × 68 × [x, y] pixels, gaps
// filled and smoothed — what the ROI was cut from).
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { cacheDir } from '../io/cache_dir.js';
import { RoiError } from './errors.js';
import {
  type LandmarksFile,
  type TrackerSettings,
  validateLandmarksFile,
} from './landmarks_record.js';

export {
  LANDMARKS_FORMAT,
  boxTuple,
  roundLandmarks,
  validateLandmarksFile,
  type LandmarksFile,
  type TrackerSettings,
} from './landmarks_record.js';

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
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
export async function readCache(
  cacheFile: string,
  sha256: string,
  tracker: TrackerSettings,
): Promise<LandmarksFile | null> {
  try {
    const j = validateLandmarksFile(JSON.parse(await fsp.readFile(cacheFile, 'utf8')), cacheFile);
    const same = j.sha256 === sha256 && JSON.stringify(j.tracker) === JSON.stringify(tracker);
    return same ? j : null;
  } catch {
    return null;
  }
}
