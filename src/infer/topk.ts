// Top-k labels with probabilities from a log-probability vector.
import { InferenceInputError, type TopKEntry } from './types.js';

export function topK(logProbs: Float32Array, labels: readonly string[], k = 5): TopKEntry[] {
  if (!Number.isInteger(k) || k < 1)
    throw new InferenceInputError(`topK: k must be an integer >= 1, got ${k}`);
  if (logProbs.length !== labels.length)
    throw new InferenceInputError(
      `topK: ${logProbs.length} log-probabilities for ${labels.length} labels`,
    );
  const idx = Array.from(logProbs.keys());
  idx.sort((a, b) => logProbs[b] - logProbs[a]);
  return idx.slice(0, Math.max(1, Math.min(k, idx.length))).map((i) => ({
    index: i,
    label: labels[i] ?? `class_${i}`,
    probability: Math.exp(logProbs[i]),
    logProb: logProbs[i],
  }));
}
