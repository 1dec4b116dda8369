// LipReader over ONNX Runtime: the same code runs onnxruntime-node (CPU, CUDA) and
// onnxruntime-web (wasm, WebGPU); the platform module is injected by ./ort_node.ts or
// ./ort_web.ts. Also provides the front-end/back-end halves used by streaming. Whole clips run
// their front-end on lanes (threads with one-thread sessions, ./frontend_lane.ts) when the
// platform offers them and the model has its front-end/back-end pair.
import { predictInBatches } from './clip_check.js';

/** Clips per onnxruntime run: measured on 2 CPU cores, batch 2-4 gives the best ms/clip for T
 *  (larger batches spill activations out of cache: batch 8 was 10-35 % slower per clip). Batch 1
 *  already runs at ~69 % of the cores' FMA peak, so no batch can be much faster per clip; see
 *  docs/inference.md "What makes the CPU path fast". */
export const ORT_BATCH = 4;
import { openSession, runFloat, type OpenedSession } from './ort_session.js';
import { pinDimensions } from '../io/onnx/static_dims.js';
import type { FrontendLanes, OrtPlatform } from './ort_types.js';
import { padTime } from './frontend_split.js';
import {
  factsFromMetadata,
  type GraphPart,
  type ModelFacts,
  type OnnxModelSource,
} from './onnx_model_source.js';
import { topK } from './topk.js';
import type { FeatureRunner } from './feature_runner.js';
import {
  InferenceInputError,
  ModelLoadError,
  ReaderDisposedError,
  type Clip,
  type LipReader,
  type Preprocessing,
  type TopKEntry,
} from './types.js';

/** Sessions with pinned (batch, time) kept per reader and graph part; other shapes use the
 *  session with symbolic dims. Each holds its own prepacked weights (T full: ~35 MB). */
export const MAX_PINNED_SHAPES = 4;

/** Front-end lanes only for models with this much work per image: the demo model (3.2 M MACs
 *  per image) ran slower on lanes (Node 3.1–4.5 vs 2.9–3.1 ms/clip; Chromium 18.8 vs 13.9), T
 *  (39 M) faster (docs/inference.md). */
export const LANES_MIN_MACS_PER_IMAGE = 10e6;

/** Front-end runs of at most this many images (streaming's: 1–3 per window at hop 1, hop + 2
 *  at hop > 1) run on one thread. Measured on 2 cores, T, one session run, ms on 1 vs 2 threads:
 *  int8 1 image 0.98 vs 1.21, 3: 2.2 vs 2.6, 6: 4.4 vs 5.6, 10: 7.5 vs 7.0; float32 2 images
 *  2.3 vs 2.5, 3: 3.5 vs 3.4, 6: 7.0 vs 5.8. In the stream (int8, hop 1, exact, median of 5 ×
 *  61 frames, two runs): 3.58 / 3.66 ms per frame against 3.97 / 4.87 with two threads; the
 *  spinning back-end no longer competes with a second front-end thread. */
const ONE_THREAD_IMAGES = { fp32: 3, int8: 8 };

const warned = new Set<string>();
/** A warning line on stderr, once per process. */
function warnOnce(line: string): void {
  if (warned.has(line)) return;
  warned.add(line);
  console.error(line);
}

/** The back-end session's wait policy: see OrtPlatform.spinBackend. */
const backendSpins = (p: OrtPlatform) => (p.spinBackend ? true : p.spinning);

export class OnnxLipReader implements LipReader, FeatureRunner {
  readonly runtime = 'onnx' as const;
  private sessions = new Map<GraphPart, Promise<OpenedSession>>();
  private pinned = new Map<string, Promise<OpenedSession>>();
  device: string;

  /** With lanes: the back-end session for whole clips, whose workers block when idle (a
   *  spinning one takes a lane's core: batch 1 int8 23.7 ms/clip against 13.5). One thread for an
   *  int8 model, whose quantized back-end ran faster on one than on two (1.4 vs 1.9 ms, batch 1),
   *  the platform's threads for float32 (3.8 vs 4.7 ms). */
  private besideLanes: OpenedSession | null = null;

  private constructor(
    private platform: OrtPlatform,
    private model: OnnxModelSource,
    /** its metadata's facts, read once by open() */
    private readonly facts: ModelFacts,
    first: OpenedSession,
    /** the front-end on every core (./frontend_lanes.ts); null: on this thread's sessions */
    private lanes: FrontendLanes | null = null,
  ) {
    if (lanes) this.besideLanes = first;
    else this.sessions.set('full', Promise.resolve(first));
    this.device = first.provider;
  }

  /** Open the model now (so load errors surface at load time): with front-end lanes (the
   *  platform has them and the model has its front-end/back-end pair), the back-end session and
   *  the lanes; otherwise the full graph. */
  static async open(platform: OrtPlatform, model: OnnxModelSource): Promise<OnnxLipReader> {
    const facts = factsFromMetadata(model.metadata, model.source);
    let reader: OnnxLipReader | null = null;
    if (platform.frontendLanes && facts.frontendMacsPerImage >= LANES_MIN_MACS_PER_IMAGE)
      reader = await OnnxLipReader.openWithLanes(platform, model, facts);
    reader ??= new OnnxLipReader(
      platform,
      model,
      facts,
      await openSession(platform, await model.graph('full'), model.source),
    );
    if (facts.int8WeightBits === 8 && platform.int8Saturates && reader.device === 'cpu')
      warnOnce(
        `eflip: warning: ${model.source}: int8 model with 8-bit weights on a CPU without VNNI: onnxruntime adds pairs of its int8 products in a saturating int16 here, so it computes other values than on VNNI, ARM or wasm; export it again with \`eflip export --quantize int8\` (7-bit weights)`,
      );
    return reader;
  }

  /** The lanes and the back-end session, or null when the model has no front-end/back-end pair
   *  or either will not open (the full graph then serves, as on a platform without lanes). */
  private static async openWithLanes(
    platform: OrtPlatform,
    model: OnnxModelSource,
    facts: ModelFacts,
  ): Promise<OnnxLipReader | null> {
    // a pair that will not load or open: null (the full graph serves); other errors propagate
    const orNull = <T>(p: Promise<T>) =>
      p.catch((e: unknown) => {
        if (e instanceof ModelLoadError) return null;
        throw e;
      });
    const fe = await orNull(model.graph('frontend'));
    if (!fe) return null;
    // the lanes open their sessions in their own threads while this one opens the back-end
    const lanes = platform.frontendLanes!(fe, model.source, facts.featureDim).catch(() => null);
    let backend: OpenedSession | null = null;
    try {
      const be = await orNull(model.graph('backend'));
      if (be)
        backend = await orNull(
          openSession(platform, be, `${model.source} (backend)`, facts.int8 ? 1 : undefined, false),
        );
    } catch (e) {
      await (await lanes)?.close();
      throw e;
    }
    const l = await lanes;
    if (l && backend) return new OnnxLipReader(platform, model, facts, backend, l);
    await l?.close();
    await backend?.session.release();
    return null;
  }

  get labels(): readonly string[] {
    return this.facts.labels;
  }
  get preprocessing(): Preprocessing {
    return this.facts.preprocessing;
  }
  get channels(): number {
    return this.facts.channels;
  }
  get featureDim(): number {
    return this.facts.featureDim;
  }

  private session(part: GraphPart): Promise<OpenedSession> {
    let s = this.sessions.get(part);
    if (!s) {
      // the back-end graph serves streaming only; see OrtPlatform.spinBackend
      const spin = part === 'backend' ? backendSpins(this.platform) : this.platform.spinning;
      s = this.model
        .graph(part)
        .then((b) =>
          openSession(this.platform, b, `${this.model.source} (${part})`, undefined, spin),
        );
      this.sessions.set(part, s);
      s.catch(() => this.sessions.delete(part));
    }
    return s;
  }

  /** The session for one input shape: with `platform.pinShapes`, the front-end graphs get a
   *  session per (batch, time) with those dims fixed (see io/onnx/static_dims.ts for why). */
  private sessionFor(part: GraphPart, batch: number, time: number): Promise<OpenedSession> {
    if (!this.platform.pinShapes || part === 'backend') return this.session(part);
    const key = `${part}:${batch}x${time}`;
    let s = this.pinned.get(key);
    if (!s) {
      if (
        [...this.pinned.keys()].filter((k) => k.startsWith(`${part}:`)).length >= MAX_PINNED_SHAPES
      )
        return this.session(part);
      // One thread per image at most, and one thread for streaming's small front-end runs
      // (ONE_THREAD_IMAGES): they have too little work per op to feed two threads.
      const images = part === 'frontend' ? batch * Math.max(1, time - 2) : batch * time;
      const small =
        part === 'frontend' && images <= ONE_THREAD_IMAGES[this.facts.int8 ? 'int8' : 'fp32'];
      s = this.model
        .graph(part)
        .then((b) =>
          openSession(
            this.platform,
            pinDimensions(b, { batch, time }, this.model.source),
            `${this.model.source} (${part}, batch ${batch}, ${time} frames)`,
            small ? 1 : images,
          ),
        );
      this.pinned.set(key, s);
      s.catch(() => this.pinned.delete(key));
    }
    return s;
  }

  async predictClip(clip: Clip): Promise<Float32Array> {
    return (await this.predictBatch([clip]))[0];
  }

  /** Runs `work` unless the reader is disposed; a run that dispose() cut short (its session
   *  released under it) rejects with the same ReaderDisposedError. */
  private async live<T>(work: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new ReaderDisposedError();
    try {
      return await work();
    } catch (e) {
      throw this.disposed ? new ReaderDisposedError() : e;
    }
  }
  private disposed = false;

  predictBatch(clips: Clip[]): Promise<Float32Array[]> {
    return this.live(() => this.predictBatchLive(clips));
  }

  private predictBatchLive(clips: Clip[]): Promise<Float32Array[]> {
    const model = {
      channels: this.channels,
      size: this.preprocessing.size,
      classes: this.facts.classes,
      maxBatch: ORT_BATCH,
    };
    return predictInBatches(clips, model, async (data, dims) => {
      const [B, C, T, S] = dims;
      const viaLanes = await this.onLanes(padTime(data, [B, C, T, S]), [B, C, T + 2, S]);
      if (viaLanes) return this.runBackend(this.besideLanes!, viaLanes, B, T);
      const { session } = await this.sessionFor('full', B, T);
      return (await runFloat(this.platform, session, 'frames', data, dims, 'log_probs')).data;
    });
  }

  /** The front-end on the lanes: clips zero-padded in time (what the full graph's first conv
   *  sees) → features; equal to the full graph's up to float rounding. Null without lanes, or
   *  once a lane has failed (the full graph then runs on this thread, as without lanes). */
  private async onLanes(
    padded: Float32Array,
    dims: [number, number, number, number],
    lanes?: number,
  ): Promise<Float32Array | null> {
    const l = this.lanes;
    if (!l?.alive) return null;
    try {
      return await l.run(padded, dims, lanes);
    } catch (e) {
      if (l.alive) throw e;
      return null;
    }
  }

  topK(logProbs: Float32Array, k = 5): TopKEntry[] {
    return topK(logProbs, this.labels, k);
  }

  /** Front-end lanes running whole clips (0: none, or they failed). */
  get frontendLanes(): number {
    return this.lanes?.alive ? this.lanes.count : 0;
  }

  /** Front-end on frames with one context frame each side: (B, C, T, S, S) → (B, T−2, d).
   *  Streaming's calls (one to three images) run here, not on the lanes: measured, the lanes'
   *  round trips and the one-thread back-end beside them cost what they save. */
  frontend(frames: Float32Array, batch: number, time: number): Promise<Float32Array> {
    return this.live(() => this.frontendLive(frames, batch, time));
  }

  private async frontendLive(
    frames: Float32Array,
    batch: number,
    time: number,
  ): Promise<Float32Array> {
    if (time < 3)
      throw new InferenceInputError(`frontend needs ≥ 3 frames (1 context each side), got ${time}`);
    const s = this.preprocessing.size;
    const { session } = await this.sessionFor('frontend', batch, time);
    return (
      await runFloat(
        this.platform,
        session,
        'frames',
        frames,
        [batch, this.channels, time, s, s],
        'features',
      )
    ).data;
  }

  /** The same front-end on one lane, leaving this thread free (a pipelined stream runs the
   *  previous window's back-end here meanwhile); null without lanes or once one has failed. */
  frontendOnLane(frames: Float32Array, batch: number, time: number): Promise<Float32Array | null> {
    const s = this.preprocessing.size;
    return this.live(() => this.onLanes(frames, [batch, this.channels, time, s], 1));
  }

  /** Back-end on a feature window: (B, T, d) → log-probs (B, classes). `besideLane`: on the
   *  session that runs beside the lanes (its workers block, so a lane keeps its core). */
  backend(
    features: Float32Array,
    batch: number,
    time: number,
    { besideLane = false }: { besideLane?: boolean } = {},
  ): Promise<Float32Array> {
    return this.live(async () =>
      this.runBackend(
        besideLane && this.besideLanes ? this.besideLanes : await this.session('backend'),
        features,
        batch,
        time,
      ),
    );
  }

  private async runBackend(
    { session }: OpenedSession,
    features: Float32Array,
    batch: number,
    time: number,
  ): Promise<Float32Array> {
    return (
      await runFloat(
        this.platform,
        session,
        'features',
        features,
        [batch, time, this.featureDim],
        'log_probs',
      )
    ).data;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.lanes?.close();
    this.lanes = null;
    const beside = this.besideLanes ? [Promise.resolve(this.besideLanes)] : [];
    this.besideLanes = null;
    for (const s of [...this.sessions.values(), ...this.pinned.values(), ...beside]) {
      try {
        await (await s).session.release();
      } catch {
        /* a session that failed to open has nothing to release */
      }
    }
    this.sessions.clear();
    this.pinned.clear();
  }
}
