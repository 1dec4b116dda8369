// Where training and evaluation compute: `train.device` (cpu, cuda, cuda:N) and
// `train.precision` (fp32, bf16 autocast, fp16 autocast with dynamic loss scaling) resolved
// once at start into a TrainDevice that the trainer, evaluation and the CLI share:
//  - resolvePrecision: train.precision=auto made concrete for the device and CPU (bf16 on a CPU
//    with native bfloat16, fp32 elsewhere), once at start; the run saves the resolved value;
//  - checkTrainDevice: the start-of-run check (a CUDA device on a build without CUDA, or fp16
//    on the CPU, is refused in one line naming the fix; nothing is written before it);
//  - autocast on the device's kind (CUDA autocast on a GPU, CPU autocast on the CPU);
//  - labels / mixup weights created on the device, results copied back to the host;
//  - feedBatches: host batches to the device one step ahead — pinned memory and a copy on a
//    side stream (native/streams.cc), so the next batch's copy overlaps this step's kernels.
//    The CPU takes the same path with a no-op copy, so the plumbing runs in every CPU test.
import {
  autocast,
  checkDevice,
  cpuNativeBf16,
  cuda,
  fromTypedArray,
  DeviceError,
  type Tensor,
} from '../engine/index.js';
import type { TrainConfig } from './config.js';
import { GradScaler } from './grad_scaler.js';
import type { TrainBatch } from './batch_source.js';

export type Precision = 'fp32' | 'bf16' | 'fp16';

/**
 * train.precision made concrete for a canonical device: `auto` is bf16 autocast on a CPU with
 * native bfloat16 instructions (`nativeBf16`: cpuNativeBf16(), the flag's name or null) — where
 * the learning check (test/train_learning.test.ts) reaches the same held-out accuracy as fp32 in
 * fewer seconds — and fp32 elsewhere: a CPU that would emulate bf16 (slower than fp32), and CUDA
 * (no learning check has run on a GPU). An explicit value is kept as given.
 */
export function resolvePrecision(
  precision: Precision | 'auto',
  device: string,
  nativeBf16: string | null = cpuNativeBf16(),
): Precision {
  if (precision !== 'auto') return precision;
  return device === 'cpu' && nativeBf16 ? 'bf16' : 'fp32';
}

/** The one log line of a resolved train.precision=auto (what it chose and why). */
export function autoPrecisionLine(
  resolved: Precision,
  device: string,
  nativeBf16: string | null = cpuNativeBf16(),
): string {
  const why =
    device !== 'cpu'
      ? `${device}: fp32 until bf16 is shown to learn as well on a GPU`
      : nativeBf16
        ? `this CPU has native bfloat16 (${nativeBf16})`
        : 'this CPU has no native bfloat16 (avx512_bf16 / amx_bf16): bf16 would be emulated';
  return `train.precision=auto → ${resolved} (${why}; set train.precision=fp32 or bf16 to choose)`;
}

/** The one-line refusal of a device/precision pair (thrown before anything is written). */
export class TrainDeviceError extends Error {
  override name = 'TrainDeviceError';
}

/**
 * Validates train.device and train.precision against this build and machine; returns the
 * canonical device ('cpu' or 'cuda:N'). Throws a one-line TrainDeviceError naming the fix.
 */
export function checkTrainDevice(cfg: Pick<TrainConfig, 'train'>): string {
  let device: string;
  try {
    device = checkDevice(cfg.train.device);
  } catch (e) {
    if (e instanceof DeviceError)
      throw new TrainDeviceError(
        `train.device=${cfg.train.device}: ${e.message.replace(/^device '[^']*' requested but /, '')}`.replace(
          /; or use cpu$/,
          '; or set train.device=cpu',
        ),
      );
    throw e;
  }
  if (cfg.train.precision === 'fp16' && device === 'cpu') {
    throw new TrainDeviceError(
      'train.precision=fp16 needs a CUDA device (libtorch has no float16 autocast on the CPU); on the CPU use train.precision=bf16 or fp32, or set train.device=cuda',
    );
  }
  return device;
}

export interface TrainDeviceOptions {
  /** override the scaler (tests: loss scaling exercised on the CPU with fp32) */
  scaler?: GradScaler | null;
}

export class TrainDevice {
  /** canonical device: 'cpu' or 'cuda:N' */
  readonly device: string;
  readonly kind: 'cpu' | 'cuda';
  readonly precision: Precision;
  /** dynamic loss scaling (fp16), else null */
  readonly scaler: GradScaler | null;

  constructor(device: string, precision: Precision, o: TrainDeviceOptions = {}) {
    this.device = checkDevice(device);
    this.kind = this.device === 'cpu' ? 'cpu' : 'cuda';
    this.precision = precision;
    if (precision === 'fp16' && this.kind === 'cpu')
      throw new TrainDeviceError(
        'train.precision=fp16 needs a CUDA device; on the CPU use bf16 or fp32',
      );
    this.scaler =
      o.scaler !== undefined ? o.scaler : precision === 'fp16' ? new GradScaler() : null;
  }

  static fromConfig(cfg: Pick<TrainConfig, 'train'>, o: TrainDeviceOptions = {}): TrainDevice {
    const device = checkTrainDevice(cfg);
    return new TrainDevice(device, resolvePrecision(cfg.train.precision, device), o);
  }

  /** Runs fn under this precision's autocast (CUDA autocast on a GPU, CPU autocast on the CPU). */
  autocast<T>(fn: () => T): T {
    if (this.precision === 'fp32') return fn();
    return autocast(fn, {
      device: this.kind,
      dtype: this.precision === 'bf16' ? 'bfloat16' : 'float16',
    });
  }

  /** Class indices as an int64 tensor on the device. */
  labels(y: ArrayLike<number>): Tensor {
    return fromTypedArray(BigInt64Array.from(Array.from(y, (v) => BigInt(v))), [y.length], {
      device: this.device,
    });
  }

  /** Numbers as a float32 tensor on the device. */
  floats(a: ArrayLike<number>): Tensor {
    return fromTypedArray(Float32Array.from(a), [a.length], { device: this.device });
  }

  feed(batches: AsyncIterable<TrainBatch>): AsyncIterable<TrainBatch> {
    return feedBatches(batches, this.device);
  }
}

/** float32 values of a tensor on any device, copied to the host (one copy). */
export function hostFloat32(t: Tensor): Float32Array {
  return t.float().toTypedArray() as Float32Array;
}

interface InFlight {
  batch: TrainBatch;
  ready: () => void;
}

/** Starts moving one host batch to `device` (CPU: nothing to move). */
function startCopy(b: TrainBatch, device: string): InFlight {
  if (device === 'cpu' || b.x.device === device) return { batch: b, ready: () => {} };
  // page-locked staging so the copy is a true asynchronous DMA (when the OS refuses to lock more
  // memory the copy still works, from pageable memory and synchronously); then the side-stream copy
  let pinned = b.x;
  if (!b.x.isPinned()) {
    try {
      pinned = b.x.pinMemory();
      b.x.dispose();
    } catch {
      pinned = b.x;
    }
  }
  let c: { tensor: Tensor; ready: () => void };
  try {
    c = cuda.copyAsync(pinned, device);
  } finally {
    // the host allocator keeps the pinned block until the copy has read it
    pinned.dispose();
  }
  return { batch: { ...b, x: c.tensor }, ready: c.ready };
}

/**
 * Host batches → device batches, one ahead: the next batch is fetched and its copy started
 * before the current one is handed out (so it overlaps the current step), and the device
 * waits for a batch's copy only when that batch is used. Batches the consumer never takes
 * (it stopped early) are freed.
 */
export async function* feedBatches(
  batches: AsyncIterable<TrainBatch>,
  device: string,
): AsyncGenerator<TrainBatch> {
  device = checkDevice(device); // a GPU this build or machine lacks: the one-line DeviceError with the fix
  const it = batches[Symbol.asyncIterator]();
  let next: InFlight | null = null;
  try {
    let r = await it.next();
    next = r.done ? null : startCopy(r.value, device);
    while (next) {
      const cur: InFlight = next;
      next = null;
      r = await it.next();
      next = r.done ? null : startCopy(r.value, device);
      cur.ready();
      yield cur.batch;
    }
  } finally {
    if (next) {
      next.ready();
      next.batch.x.dispose();
    }
    await it.return?.();
  }
}
