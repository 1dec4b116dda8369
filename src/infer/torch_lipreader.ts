// LipReader over libtorch: eflip's engine (N-API addon) running MODEL's LipReaderNet in eval
// mode, CPU or CUDA. The reference backend: ONNX Runtime parity is measured against it.
import type { Preprocessing } from '../io/onnx/preprocessing.js';
import {
  checkDevice,
  cuda,
  fromTypedArray,
  noGrad,
  setNumThreads,
  tidy,
  type Tensor,
} from '../engine/index.js';
import { loadModel } from '../model/weights.js';
import type { LipReaderNet } from '../model/lipreader.js';
import { MAX_BATCH, predictInBatches } from './clip_check.js';
import type { FeatureRunner } from './feature_runner.js';
import type { LoadOptions } from './load_node.js';
import { topK } from './topk.js';
import {
  InferenceInputError,
  ModelLoadError,
  ReaderDisposedError,
  type Clip,
  type LipReader,
  type TopKEntry,
} from './types.js';

function toHost(t: Tensor): Float32Array {
  const c = t.device === 'cpu' ? t.contiguous() : t.to('cpu').contiguous();
  return Float32Array.from(c.dataView() as Float32Array);
}

export class TorchLipReader implements LipReader, FeatureRunner {
  readonly runtime = 'torch' as const;

  private constructor(
    private net: LipReaderNet,
    readonly labels: readonly string[],
    readonly preprocessing: Preprocessing,
    readonly device: string,
  ) {}

  static async load(path: string, o: LoadOptions = {}): Promise<TorchLipReader> {
    // an explicit --device cuda on a build or machine without CUDA is refused before the model loads
    const device =
      o.device === 'cuda'
        ? checkDevice('cuda')
        : o.device !== 'cpu' && cuda.isAvailable()
          ? checkDevice('cuda')
          : 'cpu';
    let loaded;
    try {
      loaded = loadModel(path);
    } catch (e) {
      // the loader's messages already name the file
      throw new ModelLoadError((e as Error).message);
    }
    const pre: Preprocessing = loaded.preprocessing;
    if (o.threads) setNumThreads(o.threads);
    const net = loaded.model.eval();
    if (device !== 'cpu') net.to(device);
    return new TorchLipReader(net, loaded.labels, pre, device);
  }

  /** libtorch runs the whole clip with its own intra-op threads: no lanes */
  get frontendLanes(): number {
    return 0;
  }

  get channels(): number {
    return this.net.config.inChannels;
  }
  get featureDim(): number {
    return this.net.config.featureDim;
  }

  private run(data: Float32Array, shape: number[], fn: (x: Tensor) => Tensor): Float32Array {
    if (this.disposed) throw new ReaderDisposedError();
    return tidy(() =>
      noGrad(() => {
        let x = fromTypedArray(data, shape);
        if (this.device !== 'cpu') x = x.to(this.device);
        return toHost(fn(x));
      }),
    );
  }

  async predictClip(clip: Clip): Promise<Float32Array> {
    return (await this.predictBatch([clip]))[0];
  }

  async predictBatch(clips: Clip[]): Promise<Float32Array[]> {
    const model = {
      channels: this.channels,
      size: this.preprocessing.size,
      classes: this.labels.length,
      maxBatch: MAX_BATCH,
    };
    return predictInBatches(clips, model, (data, dims) =>
      this.run(data, dims, (x) => this.net.forward(x)),
    );
  }

  topK(logProbs: Float32Array, k = 5): TopKEntry[] {
    return topK(logProbs, this.labels, k);
  }

  /** (B, C, T, S, S) with one context frame each side → (B, T−2, d): the model's zero-padded
   *  features of all T frames, minus the two context frames (inner frames see true neighbours). */
  async frontend(frames: Float32Array, batch: number, time: number): Promise<Float32Array> {
    if (time < 3)
      throw new InferenceInputError(`frontend needs ≥ 3 frames (1 context each side), got ${time}`);
    const s = this.preprocessing.size;
    return this.run(frames, [batch, this.channels, time, s, s], (x) =>
      this.net.forwardFeatures(x).narrow(1, 1, time - 2),
    );
  }

  async backend(features: Float32Array, batch: number, time: number): Promise<Float32Array> {
    return this.run(features, [batch, time, this.featureDim], (f) => this.net.forwardHead(f));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
  }
  private disposed = false;
}
