// The per-clip landmarks file (JSON, format 'eflip-landmarks/1'): written by `eflip roi
// --landmarks`, kept in the per-user landmark cache (src/io/cache_dir.ts, keyed by the clip's
// SHA-256), read by `prepare --crop landmarks` (field `landmarks`: T × 68 × [x, y] pixels, gaps
// filled and smoothed — what the ROI was cut from).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { FileReadError, readRegularFile } from '../io/read_bounded.js';
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

/** JSON bytes one frame can take in a landmarks file: its `landmarks` and `raw` (68 [x, y]
 *  each, room for 17-digit numbers and indentation: 48 bytes a number), box and source. */
const LANDMARKS_FRAME_BYTES = 2 * 68 * 2 * 48 + 1024;

/** Largest landmarks file (JSON) for `frames` frames: theirs plus 1 MiB for the rest. A
 *  bigger file is not the landmarks of that clip and is refused unread. */
export function landmarksFileLimit(frames: number): number {
  return (1 << 20) + frames * LANDMARKS_FRAME_BYTES;
}

/** Largest landmarks file read where the clip's frame count is not known (the cache, an API
 *  caller): eflip roi writes ~2.3 KiB a frame, so over an hour of video at 25 frames/s. */
export const MAX_LANDMARKS_FILE_BYTES = 256 * 2 ** 20;

/** The text of a landmarks file, bounded by what `frames` frames can take (FileReadError:
 *  missing, not a regular file — a FIFO, /dev/zero —, too large, unreadable). */
export async function readLandmarksText(file: string, frames?: number): Promise<string> {
  const max =
    frames === undefined
      ? MAX_LANDMARKS_FILE_BYTES
      : Math.min(landmarksFileLimit(frames), MAX_LANDMARKS_FILE_BYTES);
  const what = frames === undefined ? 'a landmarks file' : `the landmarks of ${frames} frames`;
  return (await readRegularFile(file, max, { what })).toString('utf8');
}

export async function readLandmarksFile(file: string): Promise<LandmarksFile> {
  let j: unknown;
  try {
    j = JSON.parse(await readLandmarksText(file));
  } catch (e) {
    const why = e instanceof FileReadError ? e.reason : (e as Error).message;
    throw new RoiError('bad-landmarks', `cannot read landmarks ${file}: ${why}`);
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
    const j = validateLandmarksFile(JSON.parse(await readLandmarksText(cacheFile)), cacheFile);
    const same = j.sha256 === sha256 && JSON.stringify(j.tracker) === JSON.stringify(tracker);
    return same ? j : null;
  } catch {
    return null;
  }
}
