// The visual front-end (docs/design.md "The model" 1-2): Conv3d(k (3,5,5), s (1,2,2)) + BN + ReLU/SiLU
// [+ MaxPool3d], then the EfficientNetV2 trunk on every frame. (B, C, T, H, W) → (B, T, featureDim).
import type { Tensor } from '../engine/index.js';
import { Module, Sequential, Conv3d, BatchNorm3d, ReLU, SiLU, MaxPool3d } from '../nn/index.js';
import { EfficientNetV2 } from './efficientnetv2.js';
import type { ModelConfig } from './config.js';

export class Frontend3D extends Module {
  readonly conv3d: Sequential;
  readonly efnet: EfficientNetV2;
  constructor(c: ModelConfig) {
    super();
    const c0 = c.stages[0].inChannels;
    const parts: Record<string, Module> = {
      conv3d: new Conv3d(c.inChannels, c0, [3, 5, 5], { stride: [1, 2, 2], padding: [1, 2, 2] }),
      bn: new BatchNorm3d(c0, { eps: c.bnEps, momentum: c.bnMomentum }),
      act: c.frontendActivation === 'swish' ? new SiLU() : new ReLU(),
    };
    if (c.frontendMaxPool)
      parts.pool = new MaxPool3d([1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] });
    this.conv3d = this.registerModule('conv3d', new Sequential(parts));
    this.efnet = this.registerModule('efnet', new EfficientNetV2(c));
  }
  /** run the trunk on channels-last (NHWC) frames (LipReaderNet.channelsLast sets it with the weights) */
  channelsLast = false;
  forward(x: Tensor): Tensor {
    if (x.ndim !== 5)
      throw new Error(`front-end: expected (B, C, T, H, W), got [${x.shape.join(', ')}]`);
    const [B, , T] = x.shape;
    const y = this.conv3d.forward(x); // (B, c0, T, H', W')
    const [, c0, , h, w] = y.shape;
    const frames = this.channelsLast
      ? y
          .permute([0, 2, 3, 4, 1])
          .contiguous()
          .reshape([B * T, h, w, c0])
          .permute([0, 3, 1, 2]) // (B·T, c0, h, w) with NHWC strides, one copy
      : y.transpose(1, 2).reshape([B * T, c0, h, w]);
    return this.efnet.forward(frames).reshape([B, T, -1]);
  }
}
