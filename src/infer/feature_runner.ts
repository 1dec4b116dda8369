// The two halves of the network as used by streaming (any backend can provide them).
import type { Preprocessing } from './types.js';

export interface FeatureRunner {
  readonly channels: number;
  readonly featureDim: number;
  readonly preprocessing: Preprocessing;
  readonly labels: readonly string[];
  /** frames (B, C, T, S, S) with one context frame on each side → features (B, T−2, d) */
  frontend(frames: Float32Array, batch: number, time: number): Promise<Float32Array>;
  /** front-end lanes running now (0 or absent: none, and frontendOnLane answers null) */
  readonly frontendLanes?: number;
  /** the front-end on another thread, leaving this one free for the back-end (null: none) */
  frontendOnLane?(frames: Float32Array, batch: number, time: number): Promise<Float32Array | null>;
  /** features (B, T, d) → log-probabilities (B, classes); `besideLane`: a front-end runs on a
   *  lane meanwhile (the runner may pick a back-end that leaves the lane its core) */
  backend(
    features: Float32Array,
    batch: number,
    time: number,
    opts?: { besideLane?: boolean },
  ): Promise<Float32Array>;
}
