// Emits the lipreading network (docs/design.md "The model") into an ONNX graph, module by module,
// reading weights by their PyTorch state-dict names. Three graphs:
//   full      frames (B, C, T, H, W) → log_probs (B, classes)
//   frontend  frames (B, C, T, H, W) → features (B, T−2, d)   temporal conv 'valid': the caller
//             supplies one context frame on each side (zeros reproduce the full model's padding)
//   backend   features (B, T, d) → log_probs (B, classes)
// Inference-mode BatchNorm is folded into the conv before it; dropout/drop-path vanish.
import { DataType } from './onnx_proto.js';
import type { GraphBuilder } from './graph_builder.js';
import {
  conv,
  foldBatchNorm,
  glu,
  layerNorm,
  linear,
  prelu,
  selfAttention,
  selfOnlyAttention,
  silu,
  timeConv,
  type BatchNormParams,
  type Weight,
} from './layers.js';
import { adjustChannels, convOut, type NetworkConfig } from './network_config.js';

export class MissingWeightError extends Error {
  override name = 'MissingWeightError';
}

/** Named float32 weights (PyTorch state-dict names and shapes). */
export interface WeightSource {
  get(name: string): Weight;
  has(name: string): boolean;
}

export function mapWeightSource(m: Map<string, Weight>): WeightSource {
  return {
    has: (n) => m.has(n),
    get: (n) => {
      const w = m.get(n);
      if (!w) throw new MissingWeightError(`weight '${n}' is missing from the checkpoint`);
      return w;
    },
  };
}

function bnParams(ws: WeightSource, name: string, eps: number): BatchNormParams {
  return {
    weight: ws.get(`${name}.weight`).data,
    bias: ws.get(`${name}.bias`).data,
    runningMean: ws.get(`${name}.running_mean`).data,
    runningVar: ws.get(`${name}.running_var`).data,
    eps,
  };
}

/** Conv (optionally with bias) followed by BN, folded into one Conv. */
function convBn(
  g: GraphBuilder,
  ws: WeightSource,
  x: string,
  convName: string,
  bnName: string,
  eps: number,
  opts: Parameters<typeof conv>[5],
): string {
  const w = ws.get(`${convName}.weight`);
  const b = ws.has(`${convName}.bias`) ? ws.get(`${convName}.bias`).data : undefined;
  const f = foldBatchNorm(w, b, bnParams(ws, bnName, eps));
  return conv(g, x, convName, f.w, f.b, opts);
}

/** `…block.<part>`: Sequential(.0 conv, .1 BN[, .2 SiLU]) with 'same' padding. */
function convBnAct(
  g: GraphBuilder,
  ws: WeightSource,
  x: string,
  name: string,
  eps: number,
  stride: number,
  groups: number,
  act: boolean,
): string {
  const k = ws.get(`${name}.0.weight`).shape[2];
  const p = (k - 1) / 2;
  const y = convBn(g, ws, x, `${name}.0`, `${name}.1`, eps, {
    stride: [stride, stride],
    padding: [p, p],
    groups,
  });
  return act ? silu(g, y, `${name}.silu`) : y;
}

/** One EfficientNetV2 block (fused or MBConv+SE), input/output (N, C, H, W); `hw` is the
 *  output's spatial size (static: the crop size is fixed). */
function efficientBlock(
  g: GraphBuilder,
  ws: WeightSource,
  x: string,
  name: string,
  cfg: NetworkConfig,
  row: NetworkConfig['stages'][0],
  cin: number,
  stride: number,
  hw: number,
): string {
  const eps = cfg.bnEps;
  const b = `${name}.block`;
  let y: string;
  if (row.fused) {
    y = convBnAct(g, ws, x, `${b}.fused`, eps, stride, 1, true);
    y = convBnAct(g, ws, y, `${b}.fused_point_wise`, eps, 1, 1, false);
  } else {
    const inter = adjustChannels(cin * row.expand);
    y = convBnAct(g, ws, x, `${b}.linear_bottleneck`, eps, 1, 1, true);
    y = convBnAct(g, ws, y, `${b}.depth_wise`, eps, stride, inter, true);
    if (row.se) {
      const s0 = g.op('GlobalAveragePool', [y], {}, `${b}.se.pool`);
      const s1 = silu(
        g,
        conv(g, s0, `${b}.se.fc1`, ws.get(`${b}.se.fc1.weight`), ws.get(`${b}.se.fc1.bias`).data),
        `${b}.se.silu`,
      );
      const s2 = g.op(
        'Sigmoid',
        [conv(g, s1, `${b}.se.fc2`, ws.get(`${b}.se.fc2.weight`), ws.get(`${b}.se.fc2.bias`).data)],
        {},
        `${b}.se.sigmoid`,
      );
      // The (N, C, 1, 1) gate is repeated to (N, C, H, W) (nearest Resize, exact) so the Mul has
      // equal shapes: onnxruntime's NCHWc pass keeps same-shape Muls (and the Resize) in its
      // blocked layout, but sends a broadcasting Mul back to NCHW (two reorders per block).
      const gate = g.op(
        'Resize',
        [s2, '', g.floats([1, 1, hw, hw], [4])],
        { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        `${b}.se.gate`,
      );
      y = g.op('Mul', [y, gate], {}, `${b}.se`);
    }
    y = convBnAct(g, ws, y, `${b}.point_wise`, eps, 1, 1, false);
  }
  return stride === 1 && cin === row.outChannels ? g.op('Add', [x, y], {}, `${name}.residual`) : y;
}

/** Front-end: conv3d stem + EfficientNetV2 trunk + GLU → (B, T', d). `temporalPad` 1 = model
 *  semantics (zero padding in time), 0 = 'valid' (needs context frames, T' = T − 2). */
function frontend(
  g: GraphBuilder,
  ws: WeightSource,
  frames: string,
  cfg: NetworkConfig,
  size: number,
  temporalPad: 0 | 1,
): string {
  const eps = cfg.bnEps;
  const c0 = cfg.stages[0].inChannels;
  // The 3×5×5 stem conv runs as a 2-D conv over stacked temporal neighbours (exact): frames t−1,
  // t, t+1 become 3·C channels of one (B·T', 3C, H, W) image, so onnxruntime uses its fast 2-D
  // kernels instead of Conv3D and the rest of the trunk needs no 5-D transpose. The stack is one
  // Gather of frames t'+0..2 for each t' (one copy; three Slices + Concat + Transpose before:
  // int8 front-end 10.5 → 10.2 ms per 15 images, float 16.7 → 16.5, wasm 70.9 → 70.0 CPU ms).
  const x = temporalPad
    ? g.op(
        'Pad',
        [frames, g.int64s([0, 0, 1, 0, 0, 0, 0, 1, 0, 0])],
        { mode: 'constant' },
        'time_pad',
      )
    : frames;
  const dims = g.op('Shape', [x]); // (B, C, T, H, W)
  // taps (T', 3) = t' + k as three Ranges side by side (no Add: the int8 pass quantizes the
  // trunk's Adds)
  const time = g.op('Gather', [dims, g.int64s([2], [])], { axis: 0 });
  const taps = g.op(
    'Concat',
    [0, 1, 2].map((k) =>
      g.op('Unsqueeze', [
        g.op('Range', [
          g.int64s([k], []),
          k === 2 ? time : g.op('Sub', [time, g.int64s([2 - k], [])]),
          g.int64s([1], []),
        ]),
        g.int64s([1]),
      ]),
    ),
    { axis: 1 },
    'time_taps',
  );
  const stacked = g.op('Gather', [x, taps], { axis: 2 }, 'time_stack'); // (B, C, T', 3, H, W)
  const bt = g.op(
    'Sub',
    [g.op('Gather', [dims, g.int64s([0, 2])], { axis: 0 }), g.int64s([0, 2])],
    {},
    'batch_time',
  ); // (B, T')
  // channel index k·C + c: with one channel (B, 1, T', 3, H, W) is already (B·T', 3, H, W)
  const x2d = g.op(
    'Reshape',
    [
      cfg.inChannels === 1 ? stacked : g.op('Transpose', [stacked], { perm: [0, 2, 3, 1, 4, 5] }),
      g.int64s([-1, 3 * cfg.inChannels, size, size]),
    ],
    {},
    'frames_2d',
  );
  const w3 = ws.get('frontend_3d.conv3d.conv3d.weight'); // (c0, C, 3, 5, 5)
  const b3 = ws.has('frontend_3d.conv3d.conv3d.bias')
    ? ws.get('frontend_3d.conv3d.conv3d.bias').data
    : undefined;
  const f = foldBatchNorm(w3, b3, bnParams(ws, 'frontend_3d.conv3d.bn', eps));
  const [co, ci, kt, kh, kw] = f.w.shape;
  const w2 = new Float32Array(f.w.data.length); // (c0, 3C, 5, 5), channel index k·C + c
  for (let o = 0; o < co; o++)
    for (let c = 0; c < ci; c++)
      for (let k = 0; k < kt; k++) {
        w2.set(
          f.w.data.subarray(
            ((o * ci + c) * kt + k) * kh * kw,
            ((o * ci + c) * kt + k + 1) * kh * kw,
          ),
          (o * kt * ci + k * ci + c) * kh * kw,
        );
      }
  let y = conv(
    g,
    x2d,
    'frontend_3d.conv3d.conv3d',
    { data: w2, shape: [co, kt * ci, kh, kw] },
    f.b,
    { stride: [2, 2], padding: [2, 2] },
  );
  let hw = convOut(size, kh, 2, 2);
  y =
    cfg.frontendActivation === 'swish'
      ? silu(g, y, 'frontend_3d.conv3d.silu')
      : g.op('Relu', [y], {}, 'frontend_3d.conv3d.relu');
  if (cfg.frontendMaxPool) {
    y = g.op(
      'MaxPool',
      [y],
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      'frontend_3d.pool',
    );
    hw = convOut(hw, 3, 2, 1);
  }
  if (c0 !== co) throw new Error(`internal: stem channels ${co} vs stage table ${c0}`);
  const total = cfg.stages.reduce((a, r) => a + r.layers, 0);
  let idx = 0;
  for (const row of cfg.stages) {
    for (let j = 0; j < row.layers; j++, idx++) {
      const stride = j === 0 ? row.stride : 1;
      hw = convOut(hw, row.kernel, stride, (row.kernel - 1) / 2);
      y = efficientBlock(
        g,
        ws,
        y,
        `frontend_3d.efnet.blocks.${idx}`,
        cfg,
        row,
        j === 0 ? row.inChannels : row.outChannels,
        stride,
        hw,
      );
    }
  }
  if (idx !== total) throw new Error('internal: block count');
  y = conv(
    g,
    y,
    'frontend_3d.efnet.stage_7.pointwise',
    ws.get('frontend_3d.efnet.stage_7.pointwise.weight'),
    undefined,
  );
  y = g.op('Flatten', [g.op('GlobalAveragePool', [y])], { axis: 1 }, 'stage_7.pooled'); // (B·T', 2d)
  y = glu(g, y, 1); // (B·T', d)
  const shape = g.op('Concat', [bt, g.int64s([cfg.featureDim])], { axis: 0 }, 'feature_shape');
  return g.op('Reshape', [y, shape], {}, 'features'); // (B, T', d)
}

/** Post-norm Transformer encoder layer over time, or per frame with attention 'self' (PyTorch nn.TransformerEncoderLayer, ReLU). */
function encoderLayer(
  g: GraphBuilder,
  ws: WeightSource,
  x: string,
  name: string,
  cfg: NetworkConfig,
): string {
  const d = cfg.featureDim;
  const aw = {
    inProjWeight: ws.get(`${name}.self_attn.in_proj_weight`).data,
    inProjBias: ws.get(`${name}.self_attn.in_proj_bias`).data,
    outProjWeight: ws.get(`${name}.self_attn.out_proj.weight`).data,
    outProjBias: ws.get(`${name}.self_attn.out_proj.bias`).data,
  };
  // 'self' (the reference at batch 1): each frame attends only to itself
  const sa =
    cfg.attention === 'self'
      ? selfOnlyAttention(g, x, `${name}.self_attn`, aw, d)
      : selfAttention(g, x, `${name}.self_attn`, aw, d, cfg.transformer.heads);
  const ln = (v: string, n: string) =>
    layerNorm(
      g,
      v,
      `${name}.${n}`,
      ws.get(`${name}.${n}.weight`).data,
      ws.get(`${name}.${n}.bias`).data,
      1e-5,
    );
  const h = ln(g.op('Add', [x, sa]), 'norm1');
  let f = linear(
    g,
    h,
    `${name}.linear1`,
    ws.get(`${name}.linear1.weight`),
    ws.get(`${name}.linear1.bias`).data,
  );
  f = linear(
    g,
    g.op('Relu', [f]),
    `${name}.linear2`,
    ws.get(`${name}.linear2.weight`),
    ws.get(`${name}.linear2.bias`).data,
  );
  return ln(g.op('Add', [h, f]), 'norm2');
}

/** TCN layer L on time-major (B, T, C): residual(x) + conv_block(x), dilation 2^L (the PReLU
 *  slopes, rank-2 form, broadcast over the last axis). */
function tcnLayer(
  g: GraphBuilder,
  ws: WeightSource,
  x: string,
  name: string,
  cfg: NetworkConfig,
  level: number,
): string {
  const dil = 2 ** level;
  const cb = `${name}.conv_block`;
  const cbn = (v: string, c: string, bn: string) => {
    const w = ws.get(`${c}.weight`);
    const f = foldBatchNorm(
      w,
      ws.has(`${c}.bias`) ? ws.get(`${c}.bias`).data : undefined,
      bnParams(ws, bn, cfg.bnEps),
    );
    return timeConv(g, v, c, f.w, f.b, dil);
  };
  let y = cbn(x, `${cb}.0`, `${cb}.1`);
  y = prelu(g, y, `${cb}.2`, ws.get(`${cb}.2.weight`).data, 2);
  y = cbn(y, `${cb}.4`, `${cb}.5`);
  y = prelu(g, y, `${cb}.6`, ws.get(`${cb}.6.weight`).data, 2);
  y = prelu(g, y, `${cb}.8`, ws.get(`${cb}.8.weight`).data, 2);
  const res = ws.has(`${name}.residual.weight`)
    ? timeConv(
        g,
        x,
        `${name}.residual`,
        ws.get(`${name}.residual.weight`),
        ws.get(`${name}.residual.bias`).data,
        1,
      )
    : x;
  return g.op('Add', [res, y], {}, name);
}

/** Back-end: Transformer → TCN → mean over time → fc → log-softmax. (B, T, d) → (B, classes). */
function backend(g: GraphBuilder, ws: WeightSource, features: string, cfg: NetworkConfig): string {
  let x = features;
  if (cfg.transformer.layers === 1 && !ws.has('transformer_encoder.layers.0.norm1.weight')) {
    x = encoderLayer(g, ws, x, 'transformer_encoder', cfg);
  } else {
    for (let i = 0; i < cfg.transformer.layers; i++)
      x = encoderLayer(g, ws, x, `transformer_encoder.layers.${i}`, cfg);
  }
  // The TCN runs time-major, (B, T, C), so its convs become MatMuls over channels (timeConv).
  let y = x;
  for (let l = 0; l < cfg.tcn.layers; l++)
    y = tcnLayer(g, ws, y, `tcn_block.tcn_layers.${l}`, cfg, l);
  y = g.op('ReduceMean', [y], { axes: [1], keepdims: 0 }, 'time_mean'); // (B, width)
  y = linear(g, y, 'fc_layer', ws.get('fc_layer.weight'), ws.get('fc_layer.bias').data);
  return g.op('LogSoftmax', [y], { axis: 1 }, 'log_softmax');
}

export type GraphKind = 'full' | 'frontend' | 'backend';

/** Fill `g` with the chosen graph. Input/output names: frames, features, log_probs. */
export function emitNetwork(
  g: GraphBuilder,
  ws: WeightSource,
  cfg: NetworkConfig,
  kind: GraphKind,
  size = 88,
): void {
  const framesShape = ['batch', cfg.inChannels, 'time', size, size];
  if (kind === 'backend') {
    const f = g.input(
      'features',
      ['batch', 'time', cfg.featureDim],
      DataType.FLOAT,
      'front-end features, one row per frame',
    );
    g.output(
      backend(g, ws, f, cfg),
      'log_probs',
      ['batch', cfg.classes],
      DataType.FLOAT,
      'log-probabilities over the labels',
    );
    return;
  }
  const crops =
    cfg.inChannels === 1 ? 'grey' : cfg.inChannels === 3 ? 'RGB' : `${cfg.inChannels}-channel`;
  const frames = g.input(
    'frames',
    framesShape,
    DataType.FLOAT,
    `normalised ${crops} mouth crops (B, C, T, H, W)`,
  );
  if (kind === 'frontend') {
    const f = frontend(g, ws, frames, cfg, size, 0);
    g.output(
      f,
      'features',
      ['batch', 'time_valid', cfg.featureDim],
      DataType.FLOAT,
      'per-frame features of frames 1..T-2 (frames 0 and T-1 are context)',
    );
    return;
  }
  const f = frontend(g, ws, frames, cfg, size, 1);
  g.output(
    backend(g, ws, f, cfg),
    'log_probs',
    ['batch', cfg.classes],
    DataType.FLOAT,
    'log-probabilities over the labels',
  );
}
