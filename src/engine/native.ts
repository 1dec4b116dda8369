// Loads the libtorch addon (native/build/Release/eflip_native.node) and types its surface.
// Handles are small integers naming an at::Tensor in the addon's table (see native/common.h).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { boundThreadEnv } from '../threads.js';

export type Handle = number;
/** Opaque native objects of the c10d layer (native/distributed.cc). */
export type StoreRef = { readonly __store: unique symbol };
export type CommRef = { readonly __comm: unique symbol };
export type WorkRef = { readonly __work: unique symbol };
export type GradSyncRef = { readonly __gradSync: unique symbol };
export type NativeResult = Handle | number | boolean | string | null | NativeResult[];

export interface NativeAddon {
  opId(name: string, overload: string): number | null;
  call(op: number, ...args: unknown[]): any;
  callVoid(op: number, ...args: unknown[]): void;
  schema(op: number): string;
  fromBytes(bytes: ArrayBufferView | ArrayBuffer, dtype: number, shape: number[]): Handle;
  toBytes(h: Handle): ArrayBuffer;
  bytesView(h: Handle): ArrayBuffer;
  dispose(h: Handle): void;
  disposeMany(hs: Int32Array): void;
  live(): number;
  externalMemory(): number;
  alias(h: Handle): Handle;
  shape(h: Handle): number[];
  strides(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): string;
  item(h: Handle): number | boolean;
  dataPtr(h: Handle): bigint;
  isContiguous?(h: Handle, memoryFormat: number): boolean;
  requiresGrad(h: Handle): boolean;
  setRequiresGrad(h: Handle, v: boolean): void;
  isLeaf(h: Handle): boolean;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  backward(
    hs: Handle[],
    grads: (Handle | null)[] | null,
    retainGraph: boolean | undefined,
    createGraph: boolean,
  ): void;
  gradEnabled(): boolean;
  setGradEnabled(v: boolean): boolean;
  inferenceMode(enter: boolean): boolean;
  isInference(h: Handle): boolean;
  version(): string;
  config(): string;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  getNumInteropThreads(): number;
  manualSeed(seed: number | bigint): void;
  autocastState(device: 'cpu' | 'cuda'): [boolean, number];
  autocastSet(device: 'cpu' | 'cuda', enabled: boolean, dtype: number, nestingDelta: number): void;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaMemInfo(index: number): [number, number];
  /** host→device copy on a side stream: [device tensor, copy id] (native/streams.cc) */
  copyAsync?(h: Handle, device: string): [Handle, number];
  waitCopy?(copyId: number): void;
  /** one AdamW step over many parameters (native/foreach.cc); returns how many took the fused CPU pass */
  adamwStep?(
    params: Handle[],
    grads: Handle[],
    expAvgs: Handle[],
    expAvgSqs: Handle[],
    decays: boolean[],
    decayFactor: number,
    w1: number,
    beta2: number,
    w2: number,
    bc2Sqrt: number,
    eps: number,
    negStepSize: number,
  ): number;
  /** SiLU of a bfloat16 CPU tensor in float32 blocks, saving the bfloat16 input (native/silu_bf16.cc) */
  siluBf16?(x: Handle): Handle;
  setErrorFactory(f: (kind: string, message: string) => Error): void;
  // c10d (native/distributed.cc)
  storeCreate(host: string, port: number, isServer: boolean, timeoutMs: number): StoreRef;
  /** whether a server at host:port sends bytes before it is asked (not a c10d store) */
  probeTalker?(host: string, port: number, waitMs: number): boolean;
  storeAdd(s: StoreRef, key: string, delta: number): number;
  storeCheck(s: StoreRef, key: string): boolean;
  storeSet(s: StoreRef, key: string, value: string): void;
  storeGet(s: StoreRef, key: string): string;
  storeDispose(s: StoreRef): void;
  commAvailable(backend: string): boolean;
  commCreate(
    s: StoreRef,
    backend: string,
    rank: number,
    size: number,
    timeoutMs: number,
    deviceKind: string,
    deviceValue: string,
  ): CommRef;
  commDispose(c: CommRef): void;
  commAllReduce(
    c: CommRef,
    hs: Handle[],
    op: string,
    timeoutMs: number,
    async: boolean,
  ): WorkRef | undefined;
  commBroadcast(
    c: CommRef,
    hs: Handle[],
    root: number,
    timeoutMs: number,
    async: boolean,
  ): WorkRef | undefined;
  commAllGather(c: CommRef, outs: Handle[], input: Handle, timeoutMs: number): void;
  commBarrier(c: CommRef, timeoutMs: number): void;
  commAllReduceSumDiff(c: CommRef, h: Handle): Handle;
  workWait(w: WorkRef, timeoutMs: number): void;
  workDone(w: WorkRef): boolean;
  gradSyncCreate(
    c: CommRef,
    params: Handle[],
    bucketBytes: number,
    overlap: boolean,
  ): [GradSyncRef, number];
  gradSyncPrepare(g: GradSyncRef): void;
  gradSyncFinish(g: GradSyncRef): number;
  gradSyncDispose(g: GradSyncRef): void;
}

/** Where the compiled addon lives: EFLIP_ADDON, else native/build/Release under the package root. */
export const ADDON_PATH = process.env.EFLIP_ADDON
  ? path.resolve(process.env.EFLIP_ADDON)
  : path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      '../../../native/build/Release/eflip_native.node',
    );

/** How to get the addon, in one line (the npm install skips it when libtorch is missing). */
export const ENABLE_LIBTORCH =
  'install libtorch (Debian: apt-get install libtorch-dev; or LIBTORCH=/path, or LIBTORCH_USE_PYTORCH=1), then run `npx eflip build-native` (in the repository: `npm run build`); ONNX inference (.onnx or --runtime onnx) needs none of this';

function load(): NativeAddon {
  if (!existsSync(ADDON_PATH)) {
    throw new Error(
      `eflip: this needs libtorch and the libtorch addon is not built (${ADDON_PATH} missing): ${ENABLE_LIBTORCH}`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(ADDON_PATH) as NativeAddon;
  } catch (e) {
    const first = ((e as Error).message ?? String(e)).split('\n')[0];
    throw new Error(
      `eflip: failed to load the libtorch addon ${ADDON_PATH} (${first}); rebuild it with \`npx eflip build-native\``,
    );
  }
}

// OMP_NUM_THREADS / MKL_NUM_THREADS are read by the libraries the addon loads: bound them first
boundThreadEnv();
// libtorch's glog (c10d's socket retries once a second, gradient-layout warnings) writes
// multi-line native logs around eflip's one-line errors: errors and above only, unless the
// user set the level (GLOG_minloglevel, read when libtorch initialises its logging)
process.env.GLOG_minloglevel ??= '2';
export const native: NativeAddon = load();
