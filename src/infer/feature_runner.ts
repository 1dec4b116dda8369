// The two halves of the network as used by streaming (any backend can provide them).
import type { Preprocessing } from './types.js';

export interface FeatureRunner {
  readonly channels: number;
  readonly featureDim: number;
  readonly preprocessing: Preprocessing;
  readonly labels: readonly string[];
  /** frames (B, C, T, S, S) with one context frame on each side → features (B, T−2, d) */
  frontend(frames: Float32Array, batch: number, time: number): Promise<Float32Array>;
  /** features (B, T, d) → log-probabilities (B, classes) */
  backend(features: Float32Array, batch: number, time: number): Promise<Float32Array>;
}
