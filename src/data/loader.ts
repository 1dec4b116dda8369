// Batches for training and evaluation: per-epoch shuffling, batching, augmentation and
// background prefetch on worker threads. Deterministic: the order of epoch e is a seeded
// permutation, every sample's augmentation is seeded by (seed, epoch, position), so the same
// seed/epoch gives the same batches — also when resumed at a step (LoaderState in checkpoints).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { resolveAugment, type AugmentConfig } from './augment.js';
import {
  openDataset,
  DatasetError,
  type Dataset,
  type DatasetSpec,
  type ItemMeta,
} from './dataset.js';
import { buildBatch, epochSteps, type Batch, type BatchRequest } from './batch.js';
import { Rng, mixSeed } from './rng.js';
import { threadCountProblem } from '../threads.js';
import { shardLength, shardOrder, checkShard, type Shard } from './sampler.js';

export type { Batch } from './batch.js';

export interface LoaderOptions {
  data: DatasetSpec;
  batchSize: number;
  /** training: shuffling + augmentation defaults on (TRAIN_AUGMENT); else in order, centre crop */
  training?: boolean;
  shuffle?: boolean;
  seed?: number;
  /** overrides of the augmentation defaults */
  augment?: Partial<AugmentConfig>;
  /** drop the last incomplete batch while two full ones remain (default: training; see epochSteps) */
  dropLast?: boolean;
  /** worker threads for batch building (0 = main thread; default min(2, CPUs)) */
  workers?: number;
  /** batches in flight (default 2·workers) */
  prefetch?: number;
  /** data-parallel: this rank's part of every epoch (src/data/sampler.ts; padded when training) */
  shard?: Shard;
}

/** Where the loader is: save in checkpoints, pass to batches() to resume. */
export interface LoaderState {
  seed: number;
  epoch: number;
  /** next step (batch index) within the epoch */
  step: number;
}

export class Loader {
  readonly labels: string[];
  readonly items: ItemMeta[];
  readonly augment: AugmentConfig;
  readonly seed: number;
  readonly batchSize: number;
  /** image channels of the clips (1 grey, 3 RGB); batches carry this many plus a word-boundary channel when asked */
  readonly channels: number;
  /** side of the stored frames when the source knows it up front (shards), else undefined */
  readonly side: number | undefined;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private workers: Worker[] = [];
  private pending = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private state_: LoaderState;
  /** set when a worker died: every later request fails with it instead of waiting forever */
  private broken: Error | null = null;

  private constructor(
    private ds: Dataset,
    private o: LoaderOptions,
  ) {
    const training = !!o.training;
    this.labels = ds.labels;
    this.items = ds.items;
    this.channels = ds.channels;
    this.side = ds.side;
    this.augment = resolveAugment(o.augment, training);
    this.seed = o.seed ?? 0;
    if (!(o.batchSize >= 1)) throw new Error(`batchSize must be >= 1, got ${o.batchSize}`);
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? training;
    this.dropLast = o.dropLast ?? training;
    this.state_ = { seed: this.seed, epoch: 0, step: 0 };
    if (o.shard) checkShard(o.shard);
    const n = o.workers ?? Math.min(2, availableParallelism());
    const tooMany = threadCountProblem('loader workers', n, 0);
    if (tooMany) throw new RangeError(tooMany);
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./loader_worker.js', import.meta.url), {
        workerData: { spec: o.data, augment: this.augment, seed: this.seed },
      });
      w.on('message', (m: { id: number; result?: Batch; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(new DatasetError(m.error));
        else p.resolve(m.result!);
      });
      w.on('error', (e) => this.fail(new DatasetError(`loader worker failed: ${e.message}`)));
      w.on('exit', (code) => {
        if (this.workers.includes(w))
          this.fail(
            new DatasetError(`loader worker exited (code ${code}) while batches were pending`),
          );
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /** A dead worker fails everything pending and every later request (no batch waits forever). */
  private fail(e: Error): void {
    this.broken ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  static async open(o: LoaderOptions): Promise<Loader> {
    return new Loader(await openDataset(o.data), o);
  }

  get size(): number {
    return this.items.length;
  }

  /** clips this rank reads per epoch (all of them without a shard) */
  get localSize(): number {
    return shardLength(this.size, this.o.shard, !!this.o.training);
  }

  get stepsPerEpoch(): number {
    return epochSteps(this.localSize, this.batchSize, this.dropLast);
  }

  /** The sample order of an epoch (a seeded permutation when shuffling). */
  order(epoch: number): Int32Array {
    const idx = Int32Array.from({ length: this.size }, (_, i) => i);
    if (this.shuffle) new Rng(mixSeed(this.seed, epoch, 0x5eed)).shuffle(idx);
    return idx;
  }

  /** Position after the last batch handed out (resume with batches(state.epoch, state.step)). */
  state(): LoaderState {
    return { ...this.state_ };
  }

  private request(req: BatchRequest, k: number): Promise<Batch> {
    let p: Promise<Batch>;
    if (!this.workers.length) {
      p = buildBatch(this.ds, req, this.augment, this.seed).catch((e: Error) => {
        throw e instanceof DatasetError ? e : new DatasetError(e.message ?? String(e));
      });
    } else if (this.broken) {
      p = Promise.reject(this.broken);
    } else {
      const id = this.nextId++;
      const w = this.workers[k % this.workers.length];
      w.ref();
      p = new Promise<Batch>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        w.postMessage({ id, task: req });
      }).finally(() => {
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
      });
    }
    // a prefetched batch may fail before it is awaited: that is reported in order by batches(),
    // never as an unhandled rejection
    p.catch(() => {});
    return p;
  }

  /** Batches of one epoch from `startStep`, prefetched in the background, in order. */
  async *batches(epoch: number, startStep = 0): AsyncGenerator<Batch> {
    const { indices, positions } = shardOrder(this.order(epoch), this.o.shard, !!this.o.training);
    const steps = this.stepsPerEpoch;
    const reqs: BatchRequest[] = [];
    for (let s = startStep; s < steps; s++) {
      const pos = s * this.batchSize;
      const end = Math.min(pos + this.batchSize, indices.length);
      reqs.push({
        indices: Array.from(indices.subarray(pos, end)),
        epoch,
        step: s,
        position: positions[pos],
        ...(this.o.shard && this.o.shard.world > 1
          ? { positions: Array.from(positions.subarray(pos, end)) }
          : {}),
      });
    }
    const depth = Math.max(1, this.o.prefetch ?? 2 * Math.max(1, this.workers.length));
    const inflight: Promise<Batch>[] = [];
    let next = 0;
    try {
      while (next < reqs.length && inflight.length < depth) {
        inflight.push(this.request(reqs[next], next));
        next++;
      }
      while (inflight.length) {
        const b = await inflight.shift()!;
        if (next < reqs.length) {
          inflight.push(this.request(reqs[next], next));
          next++;
        }
        this.state_ = {
          seed: this.seed,
          epoch: b.step + 1 >= steps ? epoch + 1 : epoch,
          step: b.step + 1 >= steps ? 0 : b.step + 1,
        };
        yield b;
      }
    } finally {
      // settle whatever is still in flight before returning (a consumer that stops early)
      await Promise.allSettled(inflight);
    }
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
    this.ds.close();
  }
}
