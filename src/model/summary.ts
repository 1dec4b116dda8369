// Parameters and multiply-accumulates of a config, computed from the architecture alone (no
// tensors): what `eflip info` prints. MACs count convolutions and linear layers (the number
// docs/design.md tabulates); attention (QKV/out projections and the two T×T products) is reported
// separately, as is everything else (BN, activations, pooling: not counted).
import { blockSpecs, convOut, type ModelConfig } from './config.js';

export interface ModelSummary {
  params: { total: number; frontend: number; transformer: number; tcn: number; head: number };
  /** BN running stats and counters (not parameters) */
  buffers: number;
  macs: {
    convLinear: number;
    attention: number;
    frontend: number;
    transformer: number;
    tcn: number;
    head: number;
  };
  /** convolution/linear MACs per clip by layer: the exported graph's module paths with block
   *  indices folded (`frontend_3d.efnet.blocks.*.block.depth_wise`, as `eflip bench profile`
   *  groups its nodes); the transformer's projections are not itemised */
  layerMacs: Record<string, number>;
  input: { frames: number; size: number; channels: number };
  /** spatial size of the trunk's last feature map */
  finalMap: number;
}

export function summarize(c: ModelConfig, frames = 29, size = 88): ModelSummary {
  const c0 = c.stages[0].inChannels;
  const layerMacs: Record<string, number> = {};
  const at = (layer: string, macs: number): number => {
    layerMacs[layer] = (layerMacs[layer] ?? 0) + macs;
    return macs;
  };
  const block = (part: string, macsPerFrame: number) =>
    at(`frontend_3d.efnet.blocks.*.block.${part}`, macsPerFrame * frames);
  let fp = 0,
    fm = 0,
    buffers = 0;
  const bn = (ch: number) => {
    fp += 2 * ch;
    buffers += 2 * ch + 1;
  };
  // 3D front-end: Conv3d k(3,5,5) s(1,2,2) p(1,2,2) + bias, BN
  let h = convOut(size, 5, 2, 2);
  fp += c.inChannels * c0 * 75 + c0;
  bn(c0);
  fm += at('frontend_3d.conv3d.conv3d', c0 * frames * h * h * c.inChannels * 75);
  if (c.frontendMaxPool) h = convOut(h, 3, 2, 1);
  // trunk, per frame
  let perFrame = 0;
  for (const b of blockSpecs(c)) {
    const k2 = b.kernel * b.kernel;
    const pad = (b.kernel - 1) / 2;
    const ho = convOut(h, b.kernel, b.stride, pad);
    if (b.fused) {
      fp += b.inChannels * b.inter * k2;
      bn(b.inter);
      fp += b.inter * b.outChannels;
      bn(b.outChannels);
      perFrame += b.inter * ho * ho * b.inChannels * k2 + b.outChannels * ho * ho * b.inter;
      block('fused', b.inter * ho * ho * b.inChannels * k2);
      block('fused_point_wise', b.outChannels * ho * ho * b.inter);
    } else {
      fp += b.inChannels * b.inter;
      bn(b.inter);
      fp += b.inter * k2;
      bn(b.inter);
      perFrame += b.inter * h * h * b.inChannels + b.inter * ho * ho * k2;
      block('linear_bottleneck', b.inter * h * h * b.inChannels);
      block('depth_wise', b.inter * ho * ho * k2);
      if (b.se) {
        fp += 2 * b.inter * b.squeeze + b.squeeze + b.inter;
        perFrame += 2 * b.inter * b.squeeze;
        block('se.fc1', b.inter * b.squeeze);
        block('se.fc2', b.inter * b.squeeze);
      }
      fp += b.inter * b.outChannels;
      bn(b.outChannels);
      perFrame += b.outChannels * ho * ho * b.inter;
      block('point_wise', b.outChannels * ho * ho * b.inter);
    }
    h = ho;
  }
  const last = c.stages[c.stages.length - 1].outChannels;
  fp += last * 2 * c.featureDim;
  perFrame += 2 * c.featureDim * h * h * last;
  at('frontend_3d.efnet.stage_7.pointwise', 2 * c.featureDim * h * h * last * frames);
  fm += perFrame * frames;

  // transformer encoder layers over time
  const d = c.featureDim,
    L = c.transformer.layers,
    f = c.transformer.ffn;
  const tp = L * (4 * d * d + 4 * d + d * f + f + f * d + d + 4 * d);
  const tm = L * frames * (2 * d * f);
  const attn = L * (frames * 4 * d * d + 2 * frames * frames * d);

  // TCN
  const w = c.tcn.width,
    k = c.tcn.kernel;
  let tcp = 0,
    tcm = 0,
    cin = d;
  for (let i = 0; i < c.tcn.layers; i++) {
    tcp += cin * w * k + w + w * w * k + w + 3; // two convs (+bias) + three PReLU slopes
    tcp += 2 * 2 * w; // two BatchNorm1d (weight, bias)
    buffers += 2 * (2 * w + 1);
    tcm += at('tcn_block.tcn_layers.*.conv_block', frames * w * (cin * k + w * k));
    if (cin !== w) {
      tcp += cin * w + w;
      tcm += at('tcn_block.tcn_layers.*.residual', frames * w * cin);
    } // 1×1 residual conv
    cin = w;
  }

  const hp = w * c.classes + c.classes;
  const hm = at('fc_layer', w * c.classes);
  return {
    params: { total: fp + tp + tcp + hp, frontend: fp, transformer: tp, tcn: tcp, head: hp },
    buffers,
    macs: {
      convLinear: fm + tm + tcm + hm,
      attention: attn,
      frontend: fm,
      transformer: tm,
      tcn: tcm,
      head: hm,
    },
    layerMacs,
    input: { frames, size, channels: c.inChannels },
    finalMap: h,
  };
}
