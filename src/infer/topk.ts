// Top-k labels with probabilities from a log-probability vector.
import type { TopKEntry } from './types.js';

export function topK(logProbs: Float32Array, labels: readonly string[], k = 5): TopKEntry[] {
  const idx = Array.from(logProbs.keys());
  idx.sort((a, b) => logProbs[b] - logProbs[a]);
  return idx.slice(0, Math.max(1, Math.min(k, idx.length))).map((i) => ({
    index: i,
    label: labels[i] ?? `class_${i}`,
    probability: Math.exp(logProbs[i]),
    logProb: logProbs[i],
  }));
}
