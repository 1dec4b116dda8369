// Build one batch (shared by the loader's main-thread path and its workers).
import {
  augmentSample,
  mixupBatch,
  outChannels,
  outFrames,
  type AugmentConfig,
} from './augment.js';
import type { Dataset } from './dataset.js';
import { Rng, mixSeed } from './rng.js';

export interface Batch {
  /** (B, C, T, H, W) float32, normalised */
  x: Float32Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
  /** mixup partner labels and weights: loss = λ·nll(labels) + (1-λ)·nll(labelsB) */
  labelsB?: Int32Array;
  lambda?: Float32Array;
  /** (B, T) 1 inside the word (augment.boundary = 'array') */
  boundary?: Float32Array;
  paths: string[];
  /** dataset indices of the samples */
  indices: Int32Array;
  epoch: number;
  step: number;
}

export interface BatchRequest {
  indices: number[];
  epoch: number;
  step: number;
  /** position of the first sample in the epoch order */
  position: number;
  /** positions of every sample when they are not consecutive (a data-parallel rank's share) */
  positions?: number[];
}

/**
 * Batches in one epoch of `clips` clips — the one rule of the shard loader and the in-memory
 * source. `dropLast` (training) drops a final partial batch only while at least two full
 * batches remain, so an epoch always has a step: fewer clips than `batchSize` make one short
 * batch (PyTorch's drop_last=False), never an empty epoch. Without `dropLast` every clip is seen.
 */
export function epochSteps(clips: number, batchSize: number, dropLast: boolean): number {
  if (!(batchSize >= 1)) throw new RangeError(`batch size must be >= 1, got ${batchSize}`);
  return dropLast && clips >= 2 * batchSize
    ? Math.floor(clips / batchSize)
    : Math.ceil(clips / batchSize);
}

export async function buildBatch(
  ds: Dataset,
  req: BatchRequest,
  a: AugmentConfig,
  seed: number,
): Promise<Batch> {
  const B = req.indices.length;
  const many = ds.readMany ? await ds.readMany(req.indices) : null;
  const first = many ? many[0] : await ds.read(req.indices[0]);
  const C = outChannels(a, first.channels),
    T = outFrames(a),
    S = a.crop;
  const per = C * T * S * S;
  const x = new Float32Array(B * per);
  const labels = new Int32Array(B);
  const boundary = a.boundary === 'array' ? new Float32Array(B * T) : undefined;
  for (let k = 0; k < B; k++) {
    const i = req.indices[k];
    const clip = many ? many[k] : k === 0 ? first : await ds.read(i);
    labels[k] = ds.items[i].label;
    augmentSample(
      clip,
      a,
      new Rng(mixSeed(seed, req.epoch, req.positions ? req.positions[k] : req.position + k)),
      x,
      k * per,
      boundary,
      k * T,
    );
  }
  const mix = mixupBatch(x, B, per, labels, a, new Rng(mixSeed(seed, req.epoch, req.step, 0x6d1c)));
  return {
    x,
    shape: [B, C, T, S, S],
    labels,
    ...(mix ?? {}),
    ...(boundary ? { boundary } : {}),
    paths: req.indices.map((i) => ds.items[i].path),
    indices: Int32Array.from(req.indices),
    epoch: req.epoch,
    step: req.step,
  };
}
