// Validation of clips before any backend runs them: clear errors instead of native crashes.
import { InferenceInputError, ModelLoadError, type Clip } from './types.js';

export function checkClip(clip: Clip, channels: number, size: number, what = 'clip'): void {
  if (!clip || !(clip.data instanceof Float32Array))
    throw new InferenceInputError(`${what}: expected a Float32Array of normalised frames`);
  if (typeof SharedArrayBuffer !== 'undefined' && clip.data.buffer instanceof SharedArrayBuffer)
    throw new InferenceInputError(
      `${what}: its Float32Array is a view of a SharedArrayBuffer; copy it into one of its own (new Float32Array(data))`,
    );
  if (!Number.isInteger(clip.frames) || clip.frames < 1)
    throw new InferenceInputError(`${what}: has ${clip.frames} frames; at least 1 is needed`);
  if (clip.channels !== channels)
    throw new InferenceInputError(
      `${what}: has ${clip.channels} channels, the model expects ${channels} (${channels === 1 ? 'grey' : channels === 3 ? 'RGB' : `${channels}-channel`} frames)`,
    );
  if (clip.size !== size)
    throw new InferenceInputError(
      `${what}: frames are ${clip.size}×${clip.size}, the model expects ${size}×${size} (crop first)`,
    );
  const expect = channels * clip.frames * size * size;
  if (clip.data.length !== expect)
    throw new InferenceInputError(
      `${what}: ${clip.data.length} values, expected ${expect} (${channels}×${clip.frames}×${size}×${size})`,
    );
  // x·0 is 0 for a finite x and NaN for NaN or ±∞: one sum says whether any value is not finite
  // (half the time of testing each value; a clip is 224 K of them), the loop then names the frame
  const d = clip.data;
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0; // four sums: no add waits for the one before
  const n4 = d.length & ~3;
  for (let i = 0; i < n4; i += 4) {
    s0 += d[i] * 0;
    s1 += d[i + 1] * 0;
    s2 += d[i + 2] * 0;
    s3 += d[i + 3] * 0;
  }
  for (let i = n4; i < d.length; i++) s0 += d[i] * 0;
  if (s0 + s1 + s2 + s3 === 0) return;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      const frame = Math.floor((i % (clip.frames * size * size)) / (size * size));
      throw new InferenceInputError(`${what}: NaN or infinite pixel in frame ${frame}`);
    }
  }
}

/** Largest batch run at once (bounds memory for long lists of clips). */
export const MAX_BATCH = 16;

/** Groups clip indices by frame count (at most `max` per group) so each group runs as one
 *  (B, C, T, H, W) batch. */
export function groupByLength(clips: Clip[], max = MAX_BATCH): number[][] {
  const groups = new Map<number, number[]>();
  clips.forEach((c, i) => {
    const g = groups.get(c.frames) ?? [];
    g.push(i);
    groups.set(c.frames, g);
  });
  const out: number[][] = [];
  for (const g of groups.values())
    for (let i = 0; i < g.length; i += max) out.push(g.slice(i, i + max));
  return out;
}

/** Stack same-length clips into one (B, C, T, H, W) buffer. */
export function stackClips(clips: Clip[]): Float32Array {
  const n = clips[0].data.length;
  const out = new Float32Array(n * clips.length);
  clips.forEach((c, i) => out.set(c.data, i * n));
  return out;
}

/** Both backends' predictBatch: validate, group by length (≤ `maxBatch` per run), run each group
 *  as one (B, C, T, H, W) batch with `run`, and split its (B, classes) output per clip. */
export async function predictInBatches(
  clips: Clip[],
  model: { channels: number; size: number; classes: number; maxBatch: number },
  run: (data: Float32Array, dims: number[]) => Float32Array | Promise<Float32Array>,
): Promise<Float32Array[]> {
  if (!clips.length) return [];
  clips.forEach((c, i) =>
    checkClip(c, model.channels, model.size, clips.length > 1 ? `clip ${i}` : 'clip'),
  );
  const out: Float32Array[] = new Array(clips.length);
  const K = model.classes;
  for (const group of groupByLength(clips, model.maxBatch)) {
    const batch = group.map((i) => clips[i]);
    const { frames, channels, size } = batch[0];
    const data = batch.length === 1 ? batch[0].data : stackClips(batch); // run does not write it
    const y = await run(data, [batch.length, channels, frames, size, size]);
    checkLogProbs(y); // both runtimes (onnxruntime checks its log_probs output already)
    group.forEach((ci, j) => (out[ci] = y.slice(j * K, (j + 1) * K)));
  }
  return out;
}

/** A model's answer must be log-probabilities: finite and ≤ 0 (a graph from a stranger can
 *  output anything; NaN sorted to the top of a word list as "NaN %"). */
export function checkLogProbs(y: Float32Array): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!(v <= 1e-4 && v > -Infinity))
      throw new ModelLoadError(
        `the model's output is not log-probabilities (value ${v} at index ${i}); the model file is damaged or not an eflip export, or the input overflowed the network (pixels far outside the normalised range)`,
      );
  }
}
