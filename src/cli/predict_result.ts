// One video's prediction as `eflip predict --json` reports it (also the answer of `eflip
// serve`'s POST /api/predict): frames, seconds, top-k with probabilities and log-probabilities to 6 decimals (stable across batchings), ms per clip.
import type { TopKEntry } from '../infer/types.js';

export function clipResult(
  reader: { topK(lp: Float32Array, k?: number): TopKEntry[] },
  lp: Float32Array,
  frames: number,
  fps: number,
  top: number,
  ms: number,
) {
  return {
    frames,
    seconds: +(frames / fps).toFixed(3),
    top: reader.topK(lp, top).map((e) => ({
      label: e.label,
      probability: +e.probability.toFixed(6),
      logProb: +e.logProb.toFixed(6),
    })),
    msPerClip: +ms.toFixed(1),
  };
}
