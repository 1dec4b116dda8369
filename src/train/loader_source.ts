// The data loader of src/data (prepared shards or LRW mp4s; worker-thread prefetch, seeded
// per-epoch order and per-sample augmentation, mixup) behind the trainer's BatchSource.
import { Loader, type LoaderOptions } from '../data/loader.js';
import type { AugmentConfig } from '../data/augment.js';
import { DatasetError } from '../data/dataset.js';
import type { Split } from '../data/lrw.js';
import type { Shard } from '../data/sampler.js';
import { fromTypedArray } from '../engine/index.js';
import type { BatchSource, TrainBatch } from './batch_source.js';
import type { TrainConfig } from './config.js';

export class LoaderSource implements BatchSource {
  constructor(readonly loader: Loader) {}
  get batchesPerEpoch(): number {
    return this.loader.stepsPerEpoch;
  }
  get clips(): number {
    return this.loader.size;
  }
  get labels(): string[] {
    return this.loader.labels;
  }
  async *batches(epoch: number, skip: number): AsyncIterable<TrainBatch> {
    for await (const b of this.loader.batches(epoch, skip)) {
      yield {
        x: fromTypedArray(b.x, b.shape),
        y: b.labels,
        ...(b.labelsB && b.lambda ? { y2: b.labelsB, lam: b.lambda } : {}),
      };
    }
  }
  close(): Promise<void> {
    return this.loader.close();
  }
}

/** The loader's augmentation from a TrainConfig (training or evaluation). */
export function augmentFor(cfg: TrainConfig, training: boolean): Partial<AugmentConfig> {
  const a = cfg.data.augment;
  const common = {
    crop: cfg.data.size,
    frames: cfg.data.frames,
    mean: cfg.data.mean,
    std: cfg.data.std,
    boundary: cfg.data.word_boundary ? ('channel' as const) : ('none' as const),
  };
  if (!training)
    return {
      ...common,
      randomCrop: false,
      flip: 0,
      timeMask: { count: 0, maxFrames: 0 },
      mixup: { alpha: 0, p: 0 },
      temporalCrop: 0,
    };
  return {
    ...common,
    randomCrop: a.random_crop,
    flip: a.hflip,
    timeMask: { count: a.time_mask_s > 0 ? 1 : 0, maxFrames: Math.round(a.time_mask_s * 25) },
    mixup: { alpha: a.mixup_alpha, p: a.mixup_alpha > 0 ? 1 : 0 },
    temporalCrop: a.temporal_crop ? cfg.data.frames : 0,
  };
}

/** A loader over prepared shards (`eflip prepare`) for one split. */
export async function openShardSource(
  cfg: TrainConfig,
  split: Split,
  training: boolean,
  shard?: Shard,
): Promise<LoaderSource> {
  const o: LoaderOptions = {
    data: { kind: 'shards', dir: cfg.data.shards!, split },
    batchSize: training
      ? cfg.train.batch_size
      : (cfg.train.eval_batch_size ?? cfg.train.batch_size),
    training,
    seed: cfg.seed,
    augment: augmentFor(cfg, training),
    workers: cfg.data.workers,
    ...(shard ? { shard } : {}),
  };
  const loader = await Loader.open(o);
  if (loader.side !== undefined && cfg.data.size > loader.side) {
    await loader.close();
    throw new DatasetError(
      `data.size=${cfg.data.size} is larger than the ${loader.side}×${loader.side} clips of data.shards=${cfg.data.shards} (${split}); set data.size to at most ${loader.side}, or prepare with a larger --size`,
    );
  }
  return new LoaderSource(loader);
}
