// Data-parallel training on c10d (src/engine/distributed.ts): the process group of one run and
// the few things the trainer and run.ts ask of it — broadcast the replica from rank 0, average
// gradients in buckets overlapped with backward (GradSync), sum metric counts exactly, agree on
// stop flags, share a string (the run directory). A single process gets no DistributedRun at all.
import { cuda, fromTypedArray, noGrad, tidy, type Tensor } from '../engine/index.js';
import * as dist from '../engine/distributed.js';
import type { Shard } from '../data/sampler.js';
import type { World } from './world.js';

export interface DistOptions {
  /** train.device: cuda → NCCL on cuda:LOCAL_RANK, cpu → gloo */
  device: string;
  /** train.dist_timeout: seconds a collective (and the rendezvous) may wait for the other ranks */
  timeoutS: number;
  /** gradient bucket size (MB) of GradSync */
  bucketMB?: number;
}

/** The device of one data-parallel rank: cuda:LOCAL_RANK whatever index train.device names
 *  (one GPU per process), or cuda:0 when the launcher left each process one visible GPU
 *  (srun --gpus-per-task=1 sets CUDA_VISIBLE_DEVICES); cpu stays cpu. */
export function rankDevice(device: string, localRank: number): string {
  if (!device.startsWith('cuda')) return device;
  const count = cuda.isAvailable() ? cuda.deviceCount() : 0;
  if (count === 1) return 'cuda:0';
  if (count > 0 && localRank >= count)
    throw new Error(
      `LOCAL_RANK=${localRank} but this machine shows ${count} GPUs: start at most ${count} processes per machine (--nproc-per-node ${count})`,
    );
  return `cuda:${localRank}`;
}

/** A collective failed: another rank died, was killed or stalled past train.dist_timeout. */
export class CollectiveError extends Error {
  override name = 'CollectiveError';
}

export class DistributedRun {
  readonly rank: number;
  readonly worldSize: number;
  private gradSync: dist.GradSync | null = null;

  private constructor(
    readonly world: World,
    readonly pg: dist.ProcessGroup,
    readonly opts: DistOptions,
  ) {
    this.rank = world.rank;
    this.worldSize = world.worldSize;
  }

  /** Rendezvous with the other ranks at MASTER_ADDR:MASTER_PORT (bounded by timeoutS). */
  static async start(world: World, opts: DistOptions): Promise<DistributedRun> {
    const backend = opts.device.startsWith('cuda') ? 'nccl' : 'gloo';
    const pg = await dist.ProcessGroup.init({
      backend,
      rank: world.rank,
      worldSize: world.worldSize,
      masterAddr: world.masterAddr,
      masterPort: world.masterPort,
      timeoutMs: Math.round(opts.timeoutS * 1000),
    });
    return new DistributedRun(world, pg, opts);
  }

  get isMain(): boolean {
    return this.rank === 0;
  }

  get shard(): Shard {
    return { rank: this.rank, world: this.worldSize };
  }

  /** Run a collective; a failure names this rank and the likely cause. */
  private guard<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      const msg = ((e as Error)?.message ?? String(e)).split('\n')[0];
      const timedOut = /timed? ?out|timeout/i.test(msg);
      throw new CollectiveError(
        `${what} failed: ${msg}${timedOut ? ` — a rank stalled or is gone; train.dist_timeout=${this.opts.timeoutS}s bounds the wait` : ''}`,
      );
    }
  }

  /**
   * Overwrite `tensors` on every rank with rank 0's values (parameters and buffers at start).
   * Collectives take contiguous tensors: a channels-last weight (train.channels_last) travels as a
   * contiguous copy and is copied back in its own layout.
   */
  broadcastTensors(tensors: Tensor[]): void {
    if (!tensors.length) return;
    tidy(() =>
      noGrad(() => {
        const wire = tensors.map((t) => (t.isContiguous() ? t : t.contiguous()));
        this.guard('broadcast from rank 0', () => this.pg.broadcast(wire, 0));
        wire.forEach((w, i) => {
          if (w !== tensors[i]) tensors[i].copy_(w);
        });
      }),
    );
  }

  /** Elementwise sums over ranks (float64: exact for counts up to 2^53). */
  sum(xs: ArrayLike<number>): Float64Array {
    const t = fromTypedArray(Float64Array.from(xs), [xs.length]);
    try {
      const onDev = this.opts.device.startsWith('cuda') ? t.to({ device: this.deviceName }) : t;
      this.guard('all-reduce', () => this.pg.allReduce([onDev], 'sum'));
      const back = onDev === t ? t : onDev.to({ device: 'cpu' });
      const out = Float64Array.from(back.dataView() as Float64Array);
      if (back !== t) back.dispose();
      if (onDev !== t) onDev.dispose();
      return out;
    } finally {
      t.dispose();
    }
  }

  /** Refuse to train when the ranks disagree on a number that must be the same everywhere
   *  (clips, classes: each machine must see the same data); one all-reduce of values and squares. */
  assertSame(what: Record<string, number>): void {
    const names = Object.keys(what);
    const v = names.map((k) => what[k]);
    const r = this.sum([...v, ...v.map((x) => x * x)]);
    const W = this.worldSize;
    const bad = names.filter(
      (_, i) => Math.abs(W * r[names.length + i] - r[i] * r[i]) > 1e-6 * Math.max(1, r[i] * r[i]),
    );
    if (bad.length) {
      throw new Error(
        `the ranks see different data: ${bad.map((k) => `${k} is ${what[k]} on rank ${this.rank}, ${(r[names.indexOf(k)] / W).toFixed(1)} on average`).join('; ')} — every machine needs the same data.shards / data.root and config`,
      );
    }
  }

  /** Rank 0's string on every rank (up to 4 KiB of UTF-8). */
  broadcastString(s: string): string {
    const bytes = new Uint8Array(4096 + 4);
    const enc = new TextEncoder().encode(s);
    if (enc.length > 4096) throw new Error(`broadcastString: ${enc.length} bytes (at most 4096)`);
    new DataView(bytes.buffer).setUint32(0, enc.length, true);
    bytes.set(enc, 4);
    const f = new Float64Array(bytes.length);
    if (this.isMain) f.set(bytes);
    const t = fromTypedArray(f, [f.length]);
    try {
      const onDev = this.opts.device.startsWith('cuda') ? t.to({ device: this.deviceName }) : t;
      this.broadcastTensors([onDev]);
      const back = onDev === t ? t : onDev.to({ device: 'cpu' });
      const got = Uint8Array.from(back.dataView() as Float64Array);
      const n = new DataView(got.buffer).getUint32(0, true);
      return new TextDecoder().decode(got.subarray(4, 4 + n));
    } finally {
      t.dispose();
    }
  }

  /** The CUDA device of this rank: cuda:LOCAL_RANK (cpu for gloo). */
  get deviceName(): string {
    return rankDevice(this.opts.device, this.world.localRank);
  }

  /** Gradient averaging over ranks, bucketed and overlapped with backward. */
  attachGradients(params: Tensor[]): { beforeBackward(): void; afterBackward(): void } {
    this.gradSync = new dist.GradSync(this.pg, params, { bucketMB: this.opts.bucketMB ?? 25 });
    const gs = this.gradSync;
    return {
      beforeBackward: () => this.guard('gradient all-reduce', () => gs.prepare()),
      afterBackward: () => this.guard('gradient all-reduce', () => gs.finish()),
    };
  }

  barrier(): void {
    this.guard('barrier', () => this.pg.barrier());
  }

  dispose(): void {
    this.gradSync?.dispose?.();
    this.pg.dispose();
  }
}
