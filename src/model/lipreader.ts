// The lipreading network (docs/design.md "The model"): 3D-conv + EfficientNetV2 front-end per frame,
// a Transformer encoder over time, a TCN, mean over time, Linear, log-softmax.
//   forward(x: (B, C, T, H, W)) → (B, classes) log-probabilities, for every B including 1
//   forwardFeatures(x) → (B, T, featureDim) per-frame features (streaming reuses them)
//   forwardHead(features) → (B, classes)
// State-dict keys equal the reference implementation's (frontend_3d.*, transformer_encoder.*,
// tcn_block.*, fc_layer.*), so its checkpoints load after stripping Lightning's "model." prefix.
import { F, type Tensor } from '../engine/index.js';
import {
  Module,
  Linear,
  Dropout,
  Identity,
  ModuleList,
  TransformerEncoderLayer,
} from '../nn/index.js';
import { Frontend3D } from './frontend3d.js';
import { Tcn } from './tcn.js';
import {
  MODEL_LIMITS,
  ModelConfigError,
  modelConfig,
  type ModelConfig,
  type ModelConfigInput,
} from './config.js';
import { stateShapes } from './state_shapes.js';

/** More than one encoder layer: `transformer_encoder.layers.N.*`. */
class TransformerStack extends Module {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  constructor(c: ModelConfig) {
    super();
    const t = c.transformer;
    this.layers = this.registerModule(
      'layers',
      new ModuleList(
        Array.from(
          { length: t.layers },
          () =>
            new TransformerEncoderLayer(c.featureDim, t.heads, t.ffn, t.dropout, 1e-5, c.attention),
        ),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}

export class LipReaderNet extends Module {
  readonly config: ModelConfig;
  readonly frontend: Frontend3D;
  readonly transformer: Module;
  readonly tcn: Tcn;
  readonly dropout: Dropout;
  readonly fc: Linear;

  /** Parameters are drawn from libtorch's RNG: call manualSeed(n) first for a reproducible init. */
  constructor(config: ModelConfig | ModelConfigInput = {}) {
    super();
    const c = (this.config = modelConfig(config as ModelConfigInput));
    // every size is bounded; their product is too, before libtorch allocates anything
    let params = 0;
    for (const e of stateShapes(c)) params += e.shape.reduce((a, b) => a * b, 1);
    if (params > MODEL_LIMITS.parameters)
      throw new ModelConfigError(
        `model config: the network would have ${params.toLocaleString('en-US')} parameters (at most ${MODEL_LIMITS.parameters.toLocaleString('en-US')})`,
      );
    const t = c.transformer;
    this.frontend = this.registerModule('frontend_3d', new Frontend3D(c));
    this.transformer = this.registerModule(
      'transformer_encoder',
      t.layers === 0
        ? new Identity()
        : t.layers === 1
          ? new TransformerEncoderLayer(c.featureDim, t.heads, t.ffn, t.dropout, 1e-5, c.attention)
          : new TransformerStack(c),
    );
    this.tcn = this.registerModule('tcn_block', new Tcn(c));
    this.dropout = this.registerModule('dropout', new Dropout(c.dropout));
    this.fc = this.registerModule('fc_layer', new Linear(c.tcn.width, c.classes));
  }

  /** (B, C, T, H, W) → (B, T, featureDim) */
  forwardFeatures(x: Tensor): Tensor {
    const c = this.config;
    if (x.ndim !== 5)
      throw new Error(
        `LipReaderNet: expected input (B, ${c.inChannels}, T, H, W), got [${x.shape.join(', ')}]`,
      );
    if (x.shape[1] !== c.inChannels)
      throw new Error(
        `LipReaderNet: input has ${x.shape[1]} channels, the model expects ${c.inChannels}`,
      );
    return this.frontend.forward(x);
  }

  /** (B, T, featureDim) → (B, classes) log-probabilities */
  forwardHead(features: Tensor): Tensor {
    if (features.ndim !== 3 || features.shape[2] !== this.config.featureDim) {
      throw new Error(
        `LipReaderNet.forwardHead: expected (B, T, ${this.config.featureDim}), got [${features.shape.join(', ')}]`,
      );
    }
    const h = this.transformer.forward(features); // (B, T, d): attention over time per clip (config.attention 'self': per frame)
    const y = this.tcn.forward(h.transpose(1, 2)); // (B, width, T)
    const pooled = this.dropout.forward(y.mean(2)); // (B, width)
    return F.logSoftmax(this.fc.forward(pooled), 1); // (B, classes)
  }

  forward(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFeatures(x));
  }

  /**
   * Channels-last (NHWC) trunk: its 4-d weights re-laid out and the per-frame input made
   * channels-last, so convolutions take the NHWC kernels (train.channels_last). The same
   * numbers up to rounding; state dicts are unaffected. Replaces parameters: build the
   * optimizer afterwards.
   */
  useChannelsLast(on = true): this {
    this.to({ memoryFormat: on ? 'channelsLast' : 'contiguous' });
    this.frontend.channelsLast = on;
    return this;
  }
}
