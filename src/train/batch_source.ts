// What the trainer consumes: batches of normalised clips from a deterministic source
// (shards, a data root, or a test's tensors).
import type { Tensor } from '../engine/index.js';

/** One batch: inputs already normalised, (B, C, T, H, W) float32. */
export interface TrainBatch {
  x: Tensor;
  y: ArrayLike<number>;
  /** mixup partner labels and weight (one λ, or one per sample): loss = λ·L(y) + (1−λ)·L(y2) */
  y2?: ArrayLike<number>;
  lam?: number | ArrayLike<number>;
}

/** A deterministic batch stream: the same (epoch, skip) gives the same batches. */
export interface BatchSource {
  readonly batchesPerEpoch: number;
  readonly clips: number;
  batches(epoch: number, skip: number): AsyncIterable<TrainBatch>;
}
