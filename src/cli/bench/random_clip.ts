// Deterministic random network inputs for the benches (timing does not depend on the pixels;
// int8 calibration on them is for timing only).
import type { Clip } from '../../infer/types.js';

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
