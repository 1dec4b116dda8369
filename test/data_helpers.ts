// Shared fixtures for the data tests: small real mp4 files made with ffmpeg.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeVideo } from '../src/data/video_writer.js';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const PHOTO = new URL('../../test/fixtures/roi/messi5.jpg', import.meta.url).pathname;

/** test/fixtures/roi/messi5.jpg held still for `seconds` at 25 frames/s as an H.264 mp4 (even
 *  size, yuv420p): a real face. `x264` adds encoder options, e.g. ['-crf', '12']. */
export function photoVideo(out: string, seconds: number, x264: string[] = []): void {
  const r = spawnSync('ffmpeg', [
    ...['-v', 'error', '-y', '-loop', '1', '-i', PHOTO, '-t', String(seconds), '-r', '25'],
    ...['-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2', '-c:v', 'libx264', ...x264],
    ...['-pix_fmt', 'yuv420p', out],
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not write ${out}: ${String(r.stderr)}`);
}

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(tag: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `eflip-data-${tag}-`));
  made.push(d);
  return d;
}

/** A T×H×W×C clip whose pixels encode (frame, row, col) so crops and order are checkable. */
export function patternClip(
  frames: number,
  height: number,
  width: number,
  channels: 1 | 3,
): Uint8Array {
  const d = new Uint8Array(frames * height * width * channels);
  for (let t = 0; t < frames; t++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let c = 0; c < channels; c++) {
          d[((t * height + y) * width + x) * channels + c] = (t * 8 + y * 2 + x + c * 40) & 0xff;
        }
  return d;
}

/** Smooth moving blobs (survive H.264 well): brightness of frame t is 40 + 6t. */
export async function writeTestVideo(
  file: string,
  o: { frames: number; height: number; width: number; fps?: number },
): Promise<Uint8Array> {
  const { frames, height, width } = o;
  const d = new Uint8Array(frames * height * width * 3);
  for (let t = 0; t < frames; t++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const base = 40 + 6 * t;
        const i = ((t * height + y) * width + x) * 3;
        d[i] = base + Math.round(40 * Math.sin(x / 9));
        d[i + 1] = base + Math.round(30 * Math.cos(y / 7));
        d[i + 2] = base;
      }
  await encodeVideo(file, d, { frames, height, width, channels: 3, fps: o.fps ?? 25, crf: 12 });
  return d;
}
