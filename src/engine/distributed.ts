// Data-parallel primitives on libtorch's c10d (native/distributed.cc): TCPStore rendezvous,
// Gloo (CPU) / NCCL (CUDA builds) process groups, in-place collectives with timeouts, bucketed
// gradient averaging that overlaps with backward (GradSync), and synchronized batch norm.
// All argument checks and error messages are here; the native side takes validated values.
import { native, type CommRef, type GradSyncRef, type StoreRef, type WorkRef } from './native.js';
import { EngineError, TorchError } from './errors.js';
import { Tensor, wrap } from './tensor.js';
import { full } from './creation.js';
import { cat } from './functions.js';
import { noGrad } from './autograd.js';
import { tidy } from './scope.js';
import { isFloating } from './dtype.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOpName = 'sum' | 'avg' | 'max' | 'min';

/** A collective or the rendezvous failed (peer died, timeout, bad arguments across ranks). */
export class DistributedError extends EngineError {
  override name = 'DistributedError';
  constructor(
    message: string,
    readonly op: string,
    readonly rank: number,
  ) {
    super(message);
  }
}
/** The process group could not be formed (a rank missing, port busy, store unreachable). */
export class RendezvousError extends DistributedError {
  override name = 'RendezvousError';
}

export interface ProcessGroupOptions {
  /** 'gloo' for CPU tensors (default), 'nccl' for CUDA tensors (CUDA builds only) */
  backend?: Backend;
  rank: number;
  worldSize: number;
  /** host of the TCPStore (rank 0's address; default 127.0.0.1) */
  masterAddr?: string;
  /** port of the TCPStore (default 29500) */
  masterPort?: number;
  /** bound on the rendezvous and on every collective (default 30 minutes, like torch) */
  timeoutMs?: number;
  /** whether this process hosts the TCPStore (default: rank 0) */
  isServer?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleepSync = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms);
const seconds = (ms: number): string => `${+(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
const firstLine = (e: unknown): string =>
  String((e as Error)?.message ?? e)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)[0] ?? 'unknown error';

function checkInt(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RendezvousError(
      `process group: ${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`,
      'init',
      -1,
    );
  }
  return v;
}
const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\./.test(host);

/** The rendezvous key-value store (c10d::TCPStore). Rank 0 hosts it by default. */
export class Store {
  private ref: StoreRef | null;
  /** @internal use ProcessGroup.init */
  constructor(ref: StoreRef) {
    this.ref = ref;
  }
  private get r(): StoreRef {
    if (!this.ref) throw new DistributedError('store: used after dispose()', 'store', -1);
    return this.ref;
  }
  set(key: string, value: string): void {
    native.storeSet(this.r, key, value);
  }
  /** Waits (up to the store's timeout) for the key, then returns its value. */
  get(key: string): string {
    return native.storeGet(this.r, key);
  }
  /** Atomically adds delta to a counter and returns the new value. */
  add(key: string, delta: number): number {
    return native.storeAdd(this.r, key, delta);
  }
  has(key: string): boolean {
    return native.storeCheck(this.r, key);
  }
  dispose(): void {
    if (this.ref) native.storeDispose(this.ref);
    this.ref = null;
  }
}

/** What the host of a rendezvous writes into its store first (see ProcessGroup.init). */
const STORE_TAG_KEY = 'eflip/store';
const STORE_TAG = 'eflip-rendezvous-1';
const WORLD_KEY = 'eflip/world';

/** An asynchronous collective; wait() blocks until it is done (or fails, or times out). */
export class Work {
  private ref: WorkRef | null;
  /** @internal */
  constructor(
    ref: WorkRef,
    private readonly pg: ProcessGroup,
    private readonly op: string,
  ) {
    this.ref = ref;
  }
  wait(): void {
    if (!this.ref) return;
    const ref = this.ref;
    this.ref = null;
    this.pg._run(this.op, () => native.workWait(ref, this.pg.timeoutMs));
  }
  isCompleted(): boolean {
    return !this.ref || native.workDone(this.ref);
  }
}

export class ProcessGroup {
  private ref: CommRef | null;
  readonly store: Store;
  private constructor(
    ref: CommRef,
    store: Store,
    readonly backend: Backend,
    readonly rank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
    readonly masterAddr: string,
    readonly masterPort: number,
  ) {
    this.ref = ref;
    this.store = store;
  }

  /** Whether this build of the addon has the backend (gloo needs gloo's headers, nccl a CUDA libtorch). */
  static available(backend: Backend): boolean {
    return native.commAvailable(backend);
  }

  /**
   * Rendezvous through a TCPStore at masterAddr:masterPort, then forms the process group.
   * Every rank calls it with the same worldSize/addr/port; it returns when all have joined,
   * or throws a RendezvousError naming the missing ranks after timeoutMs.
   */
  static init(o: ProcessGroupOptions): ProcessGroup {
    const backend = o.backend ?? 'gloo';
    if (backend !== 'gloo' && backend !== 'nccl')
      throw new RendezvousError(
        `process group: backend must be 'gloo' or 'nccl', got ${JSON.stringify(backend)}`,
        'init',
        -1,
      );
    const worldSize = checkInt(o.worldSize, 'worldSize', 1);
    const rank = checkInt(o.rank, 'rank', 0, worldSize - 1);
    const addr = o.masterAddr ?? '127.0.0.1';
    if (typeof addr !== 'string' || !addr)
      throw new RendezvousError(
        'process group: masterAddr must be a host name or address',
        'init',
        rank,
      );
    const port = checkInt(o.masterPort ?? 29500, 'masterPort', 1, 65535);
    const timeoutMs = checkInt(o.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', 1);
    if (!native.commAvailable(backend)) {
      const fix =
        backend === 'gloo'
          ? 'install libgloo-dev (Debian) and rebuild the addon (bash scripts/setup.sh)'
          : 'build the addon against a CUDA libtorch with the CUDA toolkit and NCCL headers (LIBTORCH_USE_PYTORCH=1), or use backend gloo';
      throw new RendezvousError(
        `process group: this build of eflip has no ${backend} backend; ${fix}`,
        'init',
        rank,
      );
    }
    const where = `rendezvous at ${addr}:${port}`;
    const isServer = o.isServer ?? rank === 0;
    const deadline = Date.now() + timeoutMs;
    let sref: StoreRef;
    // a peer that speaks first is no store: libtorch's client would read its bytes on a
    // background thread and abort the process (native/distributed.cc, probeTalker)
    if (!isServer && native.probeTalker?.(addr, port, 300))
      throw new RendezvousError(
        `${where} is not an eflip store: the program there sends data of its own (another service on MASTER_PORT?)`,
        'init',
        rank,
      );
    try {
      sref = native.storeCreate(addr, port, isServer, timeoutMs);
    } catch (e) {
      const m = firstLine(e);
      if (isServer && /in use|bind|EADDRINUSE/i.test(m)) {
        throw new RendezvousError(
          `${where}: rank ${rank} cannot host the store, port ${port} is in use (pick another MASTER_PORT / --master-port): ${m}`,
          'init',
          rank,
        );
      }
      if (isServer)
        throw new RendezvousError(
          `${where}: rank ${rank} cannot host the store: ${m}`,
          'init',
          rank,
        );
      throw new RendezvousError(
        `${where} timed out after ${seconds(timeoutMs)}: rank ${rank} could not reach the store hosted by rank 0 (is rank 0 running, and MASTER_ADDR/MASTER_PORT right?): ${m}`,
        'init',
        rank,
      );
    }
    const store = new Store(sref);
    try {
      // The host writes a tag first and every other rank reads it before anything else: the
      // read waits at most timeoutMs (c10d bounds its waits, not its plain requests, and keeps
      // that bound on the socket), so a peer that accepts but never answers — rank 0 stopped,
      // another program on MASTER_PORT — fails in time, and a non-store there is named.
      if (isServer) {
        store.set(STORE_TAG_KEY, STORE_TAG);
        store.set(WORLD_KEY, String(worldSize));
      } else {
        let tag: string;
        try {
          tag = store.get(STORE_TAG_KEY);
        } catch (e) {
          throw new RendezvousError(
            `${where}: the store did not answer within ${seconds(timeoutMs)} (${firstLine(e)}); is rank 0 running, and is MASTER_PORT used by another program?`,
            'init',
            rank,
          );
        }
        if (tag !== STORE_TAG)
          throw new RendezvousError(
            `${where} is not an eflip store (another program on MASTER_PORT?)`,
            'init',
            rank,
          );
        // every rank must agree on the world (a mismatch looked like a timeout or a missing rank)
        const hostWorld = store.get(WORLD_KEY);
        if (hostWorld !== String(worldSize))
          throw new RendezvousError(
            `${where}: rank ${rank} has WORLD_SIZE=${worldSize}, the rank hosting the store has WORLD_SIZE=${hostWorld}; every rank needs the same`,
            'init',
            rank,
          );
      }
      if (store.add(`eflip/rank/${rank}`, 1) > 1) {
        throw new RendezvousError(
          `${where}: rank ${rank} joined twice (two processes were given RANK=${rank})`,
          'init',
          rank,
        );
      }
      store.add('eflip/joined', 1);
      for (;;) {
        const joined = store.add('eflip/joined', 0);
        if (joined >= worldSize) break;
        if (Date.now() >= deadline) {
          const missing: number[] = [];
          for (let r = 0; r < worldSize && missing.length <= 10; r++)
            if (!store.has(`eflip/rank/${r}`)) missing.push(r);
          const list =
            missing.length > 10 ? `${missing.slice(0, 10).join(', ')}, ...` : missing.join(', ');
          throw new RendezvousError(
            `${where} timed out after ${seconds(timeoutMs)}: ${joined} of ${worldSize} ranks joined (${missing.length ? `missing: rank${missing.length > 1 ? 's' : ''} ${list}` : 'every rank registered, not every one finished joining: one stalled'})`,
            'init',
            rank,
          );
        }
        sleepSync(Math.min(20, Math.max(1, deadline - Date.now())));
      }
      // Gloo's own address: GLOO_SOCKET_IFNAME as in torch, loopback for local jobs, else this host.
      const iface = process.env.GLOO_SOCKET_IFNAME;
      const [kind, value] = iface
        ? ['iface', iface.split(',')[0]]
        : isLoopback(addr)
          ? ['hostname', '127.0.0.1']
          : ['default', ''];
      let cref: CommRef;
      try {
        cref = native.commCreate(sref, backend, rank, worldSize, timeoutMs, kind, value);
      } catch (e) {
        throw new RendezvousError(
          `${where}: rank ${rank} could not connect the ${backend} process group: ${firstLine(e)}`,
          'init',
          rank,
        );
      }
      return new ProcessGroup(cref, store, backend, rank, worldSize, timeoutMs, addr, port);
    } catch (e) {
      store.dispose();
      throw e;
    }
  }

  private get r(): CommRef {
    if (!this.ref)
      throw new DistributedError(
        `process group (rank ${this.rank}): used after dispose()`,
        'use',
        this.rank,
      );
    return this.ref;
  }

  /** @internal runs a native collective; failures become one-line DistributedErrors. */
  _run<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof DistributedError) throw e;
      const m = firstLine(e);
      let why = m;
      if (/timed out|timeout/i.test(m))
        why = `timed out after ${seconds(this.timeoutMs)} (a rank stalled or died): ${m}`;
      else if (
        /closed by peer|connection reset|broken pipe|ECONNRESET|EPIPE|Connection refused|closed/i.test(
          m,
        )
      )
        why = `a peer closed its connection (a rank crashed or was killed): ${m}`;
      throw new DistributedError(
        `${op} failed on rank ${this.rank} of ${this.worldSize}: ${why}`,
        op,
        this.rank,
      );
    }
  }

  private checkTensors(op: string, ts: Tensor | readonly Tensor[]): Tensor[] {
    const list = ts instanceof Tensor ? [ts] : [...ts];
    for (const t of list) {
      if (!(t instanceof Tensor))
        throw new DistributedError(`${op}: expected eflip Tensors`, op, this.rank);
      if (!t.isContiguous())
        throw new DistributedError(
          `${op}: tensors must be contiguous (call .contiguous() first)`,
          op,
          this.rank,
        );
      const cuda = t.device.startsWith('cuda');
      if (this.backend === 'nccl' && !cuda)
        throw new DistributedError(
          `${op}: the nccl backend needs CUDA tensors, got one on ${t.device}`,
          op,
          this.rank,
        );
      if (this.backend === 'gloo' && cuda && !native.cudaAvailable())
        throw new DistributedError(`${op}: tensor on ${t.device} without CUDA`, op, this.rank);
    }
    return list;
  }
  private reduce(
    op: string,
    ts: Tensor | readonly Tensor[],
    how: ReduceOpName,
    async: boolean,
  ): Work | undefined {
    if (how !== 'sum' && how !== 'avg' && how !== 'max' && how !== 'min')
      throw new DistributedError(
        `${op}: op must be sum, avg, max or min, got ${JSON.stringify(how)}`,
        op,
        this.rank,
      );
    const list = this.checkTensors(op, ts);
    if (how === 'avg')
      for (const t of list)
        if (!isFloating(t.dtype))
          throw new DistributedError(
            `${op}: avg needs floating tensors, got ${t.dtype}`,
            op,
            this.rank,
          );
    const w = this._run(op, () =>
      native.commAllReduce(
        this.r,
        list.map((t) => t.handle),
        how,
        this.timeoutMs,
        async,
      ),
    );
    return w ? new Work(w, this, op) : undefined;
  }

  /** In place: every rank ends with root's values. */
  broadcast(ts: Tensor | readonly Tensor[], root = 0): void {
    checkInt(root, 'root', 0, this.worldSize - 1);
    const list = this.checkTensors('broadcast', ts);
    this._run('broadcast', () =>
      native.commBroadcast(
        this.r,
        list.map((t) => t.handle),
        root,
        this.timeoutMs,
        false,
      ),
    );
  }
  /** In place: every tensor becomes the element-wise reduction over ranks (avg = sum / worldSize). */
  allReduce(ts: Tensor | readonly Tensor[], op: ReduceOpName = 'sum'): void {
    this.reduce('allReduce', ts, op, false);
  }
  /** Starts an all-reduce and returns at once; call wait() before reading the tensors. */
  allReduceAsync(ts: Tensor | readonly Tensor[], op: ReduceOpName = 'sum'): Work {
    return this.reduce('allReduce', ts, op, true) as Work;
  }
  /** Returns worldSize new tensors: rank r's copy of t at index r. */
  allGather(t: Tensor): Tensor[] {
    this.checkTensors('allGather', t);
    const outs: Tensor[] = [];
    for (let r = 0; r < this.worldSize; r++) outs.push(t.clone());
    this._run('allGather', () =>
      native.commAllGather(
        this.r,
        outs.map((o) => o.handle),
        t.handle,
        this.timeoutMs,
      ),
    );
    return outs;
  }
  barrier(): void {
    this._run('barrier', () => native.commBarrier(this.r, this.timeoutMs));
  }
  /** The sum of t over ranks as a new tensor; differentiable (backward all-reduces the gradient). */
  allReduceSum(t: Tensor): Tensor {
    this.checkTensors('allReduceSum', t);
    return wrap(this._run('allReduceSum', () => native.commAllReduceSumDiff(this.r, t.handle)));
  }
  /** @internal the native process group, for GradSync */
  get _ref(): CommRef {
    return this.r;
  }
  get disposed(): boolean {
    return this.ref === null;
  }
  dispose(): void {
    if (this.ref) native.commDispose(this.ref);
    this.ref = null;
    this.store.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface GradSyncOptions {
  /** bucket size in MiB (default 25, as torch DDP); the first bucket is at most 1 MiB */
  bucketMB?: number;
  /** all-reduce buckets while backward runs (default true); false waits for the end of backward */
  overlap?: boolean;
}

/**
 * Averages gradients over the ranks of a process group, in buckets whose all-reduce starts
 * during backward as soon as all of a bucket's gradients are ready (hooks on the gradient
 * accumulators). Per step: prepare() before backward, finish() after it; steps without
 * prepare() (gradient accumulation) keep their gradients local. Parameters must be the same,
 * in the same order, on every rank; a parameter without a gradient on a rank contributes zeros.
 */
export class GradSync {
  private ref: GradSyncRef | null;
  readonly bucketCount: number;
  readonly params: Tensor[];
  constructor(
    readonly pg: ProcessGroup,
    params: readonly Tensor[],
    o: GradSyncOptions = {},
  ) {
    const mb = o.bucketMB ?? 25;
    if (typeof mb !== 'number' || !(mb > 0) || mb > 4096)
      throw new DistributedError(
        `GradSync: bucketMB must be a number in (0, 4096], got ${JSON.stringify(mb)}`,
        'gradSync',
        pg.rank,
      );
    this.params = params.filter((p) => p.requiresGrad);
    if (this.params.length === 0)
      throw new DistributedError('GradSync: no parameter requires grad', 'gradSync', pg.rank);
    for (const p of this.params)
      if (!p.isLeaf)
        throw new DistributedError(
          'GradSync: parameters must be leaf tensors',
          'gradSync',
          pg.rank,
        );
    const [ref, n] = pg._run('gradSync', () =>
      native.gradSyncCreate(
        pg._ref,
        this.params.map((p) => p.handle),
        Math.round(mb * 1024 * 1024),
        o.overlap ?? true,
      ),
    );
    this.ref = ref;
    this.bucketCount = n;
  }
  private get r(): GradSyncRef {
    if (!this.ref)
      throw new DistributedError('GradSync: used after dispose()', 'gradSync', this.pg.rank);
    return this.ref;
  }
  /** Arms the hooks: the next backward all-reduces the gradients. */
  prepare(): void {
    native.gradSyncPrepare(this.r);
  }
  /** Waits for the all-reduces and writes the averaged gradients; returns how many buckets started during backward. */
  finish(): { bucketsDuringBackward: number } {
    const n = this.pg._run('gradSync', () => native.gradSyncFinish(this.r));
    return { bucketsDuringBackward: n };
  }
  dispose(): void {
    if (this.ref) native.gradSyncDispose(this.ref);
    this.ref = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface SyncBatchNormOptions {
  momentum?: number;
  eps?: number;
}

/**
 * Batch norm in training mode whose batch statistics (mean, variance, element count) are
 * computed over the whole process group, like torch.nn.SyncBatchNorm: the forward all-reduces
 * the per-channel sums, the backward all-reduces their gradients. Running statistics are
 * updated with the global mean and unbiased variance. x: [N, C, ...].
 */
export function syncBatchNorm(
  pg: ProcessGroup,
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  o: SyncBatchNormOptions = {},
): Tensor {
  if (x.ndim < 2)
    throw new TorchError(
      `syncBatchNorm: input must be at least 2-d (N, C, ...), got [${x.shape.join(', ')}]`,
    );
  return tidy(() => syncBatchNormIn(pg, x, runningMean, runningVar, weight, bias, o));
}
function syncBatchNormIn(
  pg: ProcessGroup,
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  o: SyncBatchNormOptions,
): Tensor {
  const eps = o.eps ?? 1e-5;
  const momentum = o.momentum ?? 0.1;
  const C = x.shape[1];
  const dims = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
  const bshape = [1, C, ...Array.from({ length: x.ndim - 2 }, () => 1)];
  // reduced-precision activations (autocast) are normalised in the parameters' dtype
  const want =
    weight?.dtype ??
    (isFloating(x.dtype) && x.dtype !== 'float16' && x.dtype !== 'bfloat16' ? x.dtype : 'float32');
  const xs = x.dtype === want ? x : x.to({ dtype: want });
  const count = full([1], x.numel / C, { dtype: want, device: xs.device });
  const g1 = pg.allReduceSum(cat([xs.sum(dims), count]));
  const total = g1.narrow(0, C, 1);
  const mean = g1.narrow(0, 0, C).div(total);
  const centered = xs.sub(mean.reshape(bshape));
  const varB = pg.allReduceSum(centered.square().sum(dims)).div(total);
  let y = centered.mul(varB.add(eps).rsqrt().reshape(bshape));
  if (weight) y = y.mul(weight.reshape(bshape));
  if (bias) y = y.add(bias.reshape(bshape));
  const n = total.item() as number;
  if (n <= 1)
    throw new TorchError(
      `syncBatchNorm: expected more than 1 value per channel when training, got ${n} over all ranks`,
    );
  if (runningMean && runningVar) {
    noGrad(() => {
      runningMean.mul_(1 - momentum).add_(mean.detach().mul(momentum));
      runningVar.mul_(1 - momentum).add_(varB.detach().mul((momentum * n) / (n - 1)));
    });
  }
  return y;
}
