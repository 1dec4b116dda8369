// The slice of the onnxruntime JS API (common to onnxruntime-node and onnxruntime-web) that
// eflip uses, so one backend implementation serves Node and the browser.
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtSessionOptions {
  executionProviders?: string[];
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** session config entries, e.g. { session: { intra_op: { allow_spinning: '0' } } } */
  extra?: Record<string, unknown>;
  enableProfiling?: boolean;
  profileFilePrefix?: string;
}
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** The front-end run on several threads at once, each a one-thread session on its part of the
 *  frames (Node: worker threads, ./frontend_lanes.ts; the cut: ./frontend_split.ts). */
export interface FrontendLanes {
  readonly count: number;
  /** false once a lane has failed: the reader then runs the front-end on its own sessions */
  readonly alive: boolean;
  /** frames (B, C, T, S, S) with one context frame each side → features (B, T − 2, d), cut
   *  over `lanes` lanes at most (default: all) */
  run(
    frames: Float32Array,
    dims: readonly [number, number, number, number],
    lanes?: number,
  ): Promise<Float32Array>;
  close(): Promise<void>;
}

/** How to run sessions: the runtime module plus the providers to try in order. */
export interface OrtPlatform {
  ort: OrtModule;
  /** e.g. ['cuda', 'cpu'] or ['webgpu', 'wasm']; each is tried until one creates a session */
  providers: string[];
  threads?: number;
  /** cores of the machine (Node), for lowering a session's threads when `threads` is unset */
  cores?: number;
  /** let idle worker threads spin (lower latency on an idle machine, much worse on a busy
   *  one); false = block. onnxruntime-node only. */
  spinning?: boolean;
  /** let the streaming back-end session's workers spin even when `spinning` is off. Streaming
   *  runs its small front-end batches on the calling thread alone (OnnxLipReader's
   *  ONE_THREAD_IMAGES), so the back-end's spinning worker has the other core to itself: fast
   *  mode 5.1 → 4.8 ms/frame on 2 cores. onnxruntime-node only; EFLIP_ORT_SPIN=0 turns it off. */
  spinBackend?: boolean;
  /** open a session per input shape with the symbolic dims fixed (faster on onnxruntime's CPU
   *  provider); false/absent = one session with symbolic dims */
  pinShapes?: boolean;
  /** the CPU adds u8×s8 int8 product pairs in a saturating int16 (x86 without VNNI,
   *  onnxruntime-node): an int8 model with 8-bit weights computes other values on its CPU
   *  provider, and opening one there says so (src/io/onnx/quantize.ts) */
  int8Saturates?: boolean;
  /** record onnxruntime's per-node profile in every session (`eflip bench profile`): Node writes
   *  `<filePrefix>_<date>.json` on the session's endProfiling(), onnxruntime-web prints it */
  profiling?: { filePrefix: string };
  /** extra session config entries per provider (merged into `extra`), e.g. optimizer switches */
  providerConfig?: Record<string, Record<string, unknown>>;
  /** start front-end lanes for a front-end graph (CPU only); absent = one session per call, on
   *  the platform's threads */
  frontendLanes?: (
    frontend: Uint8Array,
    source: string,
    featureDim: number,
  ) => Promise<FrontendLanes>;
}
