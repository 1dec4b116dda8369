// LipReader over ONNX Runtime: the same code runs onnxruntime-node (CPU, CUDA) and
// onnxruntime-web (wasm, WebGPU); the platform module is injected by ./ort_node.ts or
// ./ort_web.ts. Also provides the front-end/back-end halves used by streaming.
import { predictInBatches } from './clip_check.js';

/** Clips per onnxruntime run: measured on 2 CPU cores, batch 2-4 gives the best ms/clip for T
 *  (larger batches spill activations out of cache: batch 8 was 10-35 % slower per clip). Batch 1
 *  already runs at ~69 % of the cores' FMA peak, so no batch can be much faster per clip; see
 *  docs/inference.md "What makes the CPU path fast". */
export const ORT_BATCH = 4;
import { openSession, runFloat, type OpenedSession } from './ort_session.js';
import { pinDimensions } from '../io/onnx/static_dims.js';
import type { OrtPlatform } from './ort_types.js';
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
  type Clip,
  type LipReader,
  type Preprocessing,
  type TopKEntry,
} from './types.js';

/** Sessions with pinned (batch, time) kept per reader and graph part; other shapes use the
 *  session with symbolic dims. Each holds its own prepacked weights (T full: ~35 MB). */
export const MAX_PINNED_SHAPES = 4;

export class OnnxLipReader implements LipReader, FeatureRunner {
  readonly runtime = 'onnx' as const;
  private sessions = new Map<GraphPart, Promise<OpenedSession>>();
  private pinned = new Map<string, Promise<OpenedSession>>();
  private facts: ModelFacts;
  device: string;

  private constructor(
    private platform: OrtPlatform,
    private model: OnnxModelSource,
    first: OpenedSession,
  ) {
    this.facts = factsFromMetadata(model.metadata, model.source);
    this.sessions.set('full', Promise.resolve(first));
    this.device = first.provider;
  }

  /** Open the full graph now (so load errors surface at load time). */
  static async open(platform: OrtPlatform, model: OnnxModelSource): Promise<OnnxLipReader> {
    factsFromMetadata(model.metadata, model.source);
    const first = await openSession(platform, await model.graph('full'), model.source);
    return new OnnxLipReader(platform, model, first);
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
      const spin = part === 'backend' && this.platform.spinBackend ? true : this.platform.spinning;
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
      // One thread per image at most: a lone 88×88 frame (streaming) has too little work per op
      // to feed two threads (measured: 1.75 ms on one thread vs 2.0 on two, T, 2 cores).
      const images = part === 'frontend' ? batch * Math.max(1, time - 2) : batch * time;
      s = this.model
        .graph(part)
        .then((b) =>
          openSession(
            this.platform,
            pinDimensions(b, { batch, time }, this.model.source),
            `${this.model.source} (${part}, batch ${batch}, ${time} frames)`,
            images,
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

  predictBatch(clips: Clip[]): Promise<Float32Array[]> {
    const model = {
      channels: this.channels,
      size: this.preprocessing.size,
      classes: this.facts.classes,
      maxBatch: ORT_BATCH,
    };
    return predictInBatches(clips, model, async (data, dims) => {
      const { session } = await this.sessionFor('full', dims[0], dims[2]);
      return (await runFloat(this.platform, session, 'frames', data, dims, 'log_probs')).data;
    });
  }

  topK(logProbs: Float32Array, k = 5): TopKEntry[] {
    return topK(logProbs, this.labels, k);
  }

  /** Front-end on frames with one context frame each side: (B, C, T, S, S) → (B, T−2, d). */
  async frontend(frames: Float32Array, batch: number, time: number): Promise<Float32Array> {
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

  /** Back-end on a feature window: (B, T, d) → log-probs (B, classes). */
  async backend(features: Float32Array, batch: number, time: number): Promise<Float32Array> {
    const { session } = await this.session('backend');
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
    for (const s of [...this.sessions.values(), ...this.pinned.values()]) {
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
