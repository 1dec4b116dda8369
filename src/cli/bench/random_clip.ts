// Deterministic random network inputs for the benches (timing does not depend on the pixels;
// int8 calibration on them is for timing only), and random weights when no checkpoint is given.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clip } from '../../infer/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** the python3 with torch that the benches compare against (and that writes random weights) */
export const BENCH_PYTHON = process.env.EFLIP_PYTHON ?? '/usr/bin/python3';

/** A random checkpoint of `variant` (BatchNorm statistics random too) written into `dir` by
 *  tools/torch_ref/lipreader.py; returns its path. */
export function randomWeights(variant: string, dir: string): string {
  const out = path.join(dir, `${variant}.safetensors`);
  execFileSync(
    BENCH_PYTHON,
    [
      path.join(ROOT, 'tools/torch_ref/lipreader.py'),
      'init',
      '--variant',
      variant,
      '--random-bn',
      '--out',
      out,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return out;
}

/** A `channels`×`frames`×`size`×`size` clip (default grey 88×88) of values in [-2, 2) from a
 *  linear congruential generator. */
export function randomClip(frames: number, seed: number, size = 88, channels = 1): Clip {
  const data = new Float32Array(channels * frames * size * size);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return { data, frames, channels, size };
}
