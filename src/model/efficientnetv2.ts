// The EfficientNetV2 trunk of the front-end, built from a stage table (docs/design.md "The model" 2;
// Tan & Le 2021). Names follow the reference state dict: blocks.N.block.{fused, fused_point_wise}
// or blocks.N.block.{linear_bottleneck, depth_wise, se, point_wise}; stage_7.pointwise.
// Per frame: (N, c0, H, W) → (N, featureDim) after a 1×1 conv, global average pool and GLU.
import { F, tidy, type Tensor } from '../engine/index.js';
import { Module, Sequential, Conv2d, BatchNorm2d, SiLU, DropPath } from '../nn/index.js';
import { blockSpecs, type BlockSpec, type ModelConfig } from './config.js';

/** Conv k×k (no bias, same padding) + BN (+ SiLU): Sequential children "0", "1" (, "2"). */
function convBn(
  c: ModelConfig,
  cin: number,
  cout: number,
  k: number,
  o: { stride?: number; groups?: number; act?: boolean } = {},
): Sequential {
  const seq = new Sequential(
    new Conv2d(cin, cout, k, {
      stride: o.stride ?? 1,
      padding: (k - 1) / 2,
      groups: o.groups ?? 1,
      bias: false,
    }),
    new BatchNorm2d(cout, { eps: c.bnEps, momentum: c.bnMomentum }),
  );
  if (o.act !== false) seq.append(new SiLU());
  return seq;
}

/** Squeeze-excite: x · sigmoid(fc2(silu(fc1(avgpool(x))))), fc1/fc2 are 1×1 convs with bias. */
export class SqueezeExcite extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  constructor(channels: number, squeeze: number) {
    super();
    this.fc1 = this.registerModule('fc1', new Conv2d(channels, squeeze, 1));
    this.fc2 = this.registerModule('fc2', new Conv2d(squeeze, channels, 1));
  }
  forward(x: Tensor): Tensor {
    const s = this.fc2.forward(F.silu(this.fc1.forward(F.adaptiveAvgPool2d(x, 1)))).sigmoid();
    return x.mul(s);
  }
}

/** One (fused-)MBConv block with residual + stochastic depth when stride 1 and in = out. */
export class EfficientBlock extends Module {
  readonly block: Sequential;
  readonly dropPath: DropPath;
  constructor(
    c: ModelConfig,
    readonly spec: BlockSpec,
  ) {
    super();
    const s = spec;
    const parts: Record<string, Module> = {};
    if (s.fused) {
      parts.fused = convBn(c, s.inChannels, s.inter, s.kernel, { stride: s.stride });
      parts.fused_point_wise = convBn(c, s.inter, s.outChannels, 1, { act: false });
    } else {
      parts.linear_bottleneck = convBn(c, s.inChannels, s.inter, 1);
      parts.depth_wise = convBn(c, s.inter, s.inter, s.kernel, {
        stride: s.stride,
        groups: s.inter,
      });
      if (s.se) parts.se = new SqueezeExcite(s.inter, s.squeeze);
      parts.point_wise = convBn(c, s.inter, s.outChannels, 1, { act: false });
    }
    this.block = this.registerModule('block', new Sequential(parts));
    this.dropPath = this.registerModule('drop_path', new DropPath(s.dropPath));
  }
  forward(x: Tensor): Tensor {
    const y = this.block.forward(x);
    return this.spec.residual ? x.add(this.dropPath.forward(y)) : y;
  }
}

/** Final 1×1 conv to 2·featureDim, global average pool, GLU over channels. */
export class Stage7 extends Module {
  readonly pointwise: Conv2d;
  constructor(cin: number, featureDim: number) {
    super();
    this.pointwise = this.registerModule(
      'pointwise',
      new Conv2d(cin, 2 * featureDim, 1, { bias: false }),
    );
  }
  forward(x: Tensor): Tensor {
    return F.glu(F.adaptiveAvgPool2d(this.pointwise.forward(x), 1).flatten(1), 1);
  }
}

export class EfficientNetV2 extends Module {
  readonly blocks: Sequential;
  readonly stage7: Stage7;
  constructor(c: ModelConfig) {
    super();
    this.blocks = this.registerModule(
      'blocks',
      new Sequential(...blockSpecs(c).map((s) => new EfficientBlock(c, s))),
    );
    this.stage7 = this.registerModule(
      'stage_7',
      new Stage7(c.stages[c.stages.length - 1].outChannels, c.featureDim),
    );
  }
  /** (N, c0, H, W) → (N, featureDim). Each block runs in its own scope (intermediates freed early). */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const b of this.blocks) {
      const next = tidy(() => b.forward(y));
      if (y !== x) y.dispose();
      y = next;
    }
    const out = this.stage7.forward(y);
    if (y !== x) y.dispose();
    return out;
  }
}
