// ONNX emitters for the layers of the network, on top of GraphBuilder. Each takes the name
// of the input value and plain Float32Array weights and returns the name of its output.
// Layouts follow PyTorch: conv weights (out, in/groups, ...k), linear weights (out, in).
import { attr, type GraphBuilder } from './graph_builder.js';

/** A weight tensor: data + PyTorch shape. */
export interface Weight {
  data: Float32Array;
  shape: number[];
}

export interface BatchNormParams {
  weight: Float32Array;
  bias: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps: number;
}

/** Fold an inference-mode BatchNorm into the conv before it (exact algebra, one rounding):
 *  w' = w·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β. */
export function foldBatchNorm(
  w: Weight,
  bias: Float32Array | undefined,
  bn: BatchNormParams,
): { w: Weight; b: Float32Array } {
  const out = w.shape[0];
  if (bn.weight.length !== out)
    throw new Error(`BN fold: BN has ${bn.weight.length} channels, conv has ${out} outputs`);
  const per = w.data.length / out;
  const wf = new Float32Array(w.data.length);
  const bf = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    const scale = bn.weight[o] / Math.sqrt(bn.runningVar[o] + bn.eps);
    for (let i = 0; i < per; i++) wf[o * per + i] = w.data[o * per + i] * scale;
    bf[o] = ((bias ? bias[o] : 0) - bn.runningMean[o]) * scale + bn.bias[o];
  }
  return { w: { data: wf, shape: w.shape }, b: bf };
}

export interface ConvOptions {
  stride?: number[];
  padding?: number[]; // per spatial dim, symmetric (PyTorch style)
  dilation?: number[];
  groups?: number;
}

/** Conv over N spatial dims (1-D, 2-D or 3-D from the weight's rank). */
export function conv(
  g: GraphBuilder,
  x: string,
  name: string,
  w: Weight,
  b: Float32Array | undefined,
  o: ConvOptions = {},
): string {
  const nd = w.shape.length - 2;
  const pad = o.padding ?? new Array(nd).fill(0);
  const inputs = [x, g.initializer(`${name}.weight`, w.data, w.shape)];
  if (b) inputs.push(g.initializer(`${name}.bias`, b, [b.length]));
  return g.op(
    'Conv',
    inputs,
    {
      kernel_shape: w.shape.slice(2),
      strides: o.stride ?? new Array(nd).fill(1),
      pads: [...pad, ...pad],
      dilations: o.dilation ?? new Array(nd).fill(1),
      group: o.groups ?? 1,
    },
    name,
  );
}

/** A time-major (B, T, Cin) conv1d (kernel k, dilation d, 'same' zero padding) as one MatMul:
 *  the k shifted copies of x are stacked on the channel axis, (B, T, k·Cin) · (k·Cin, Cout).
 *  onnxruntime prepacks a constant MatMul operand once, where its Conv re-packs per run. */
export function timeConv(
  g: GraphBuilder,
  x: string,
  name: string,
  w: Weight,
  b: Float32Array,
  dil: number,
): string {
  const [co, ci, k] = w.shape;
  if (k === 1) return linear(g, x, name, { data: w.data, shape: [co, ci] }, b);
  const pad = (dil * (k - 1)) / 2;
  const xp = g.op(
    'Pad',
    [x, g.int64s([0, pad, 0, 0, pad, 0])],
    { mode: 'constant' },
    `${name}.pad`,
  );
  const shifted = Array.from({ length: k }, (_, j) => {
    const end = j * dil - 2 * pad; // from the end of the padded axis; 0 means "to the end"
    return g.op(
      'Slice',
      [xp, g.int64s([j * dil]), g.int64s([end === 0 ? 2147483647 : end]), g.int64s([1])],
      {},
      `${name}.tap${j}`,
    );
  });
  const cols = g.op('Concat', shifted, { axis: 2 }, `${name}.cols`);
  const wt = new Float32Array(k * ci * co); // (k·Cin, Cout), row j·Cin + c
  for (let o = 0; o < co; o++)
    for (let c = 0; c < ci; c++)
      for (let j = 0; j < k; j++) wt[(j * ci + c) * co + o] = w.data[(o * ci + c) * k + j];
  const y = g.op(
    'MatMul',
    [cols, g.initializer(`${name}.weight_cols`, wt, [k * ci, co])],
    {},
    name,
  );
  return g.op('Add', [y, g.initializer(`${name}.bias`, b, [co])], {}, `${name}_bias`);
}

/** x·σ(x) (SiLU / swish) as Sigmoid + Mul: supported by every runtime. */
export function silu(g: GraphBuilder, x: string, name = 'silu'): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x], {}, `${name}.sigmoid`)], {}, name);
}

/** PReLU with PyTorch's parameter (1 value, or one per channel of a (B, C, ...) input; rank 2
 *  gives shape (C), i.e. one per channel of the last axis, for time-major (B, T, C) input). */
export function prelu(
  g: GraphBuilder,
  x: string,
  name: string,
  slope: Float32Array,
  rank: number,
): string {
  const dims = slope.length === 1 ? [1] : [slope.length, ...new Array(rank - 2).fill(1)];
  return g.op('PRelu', [x, g.initializer(`${name}.weight`, slope, dims)], {}, name);
}

/** GLU over `axis`: first half · σ(second half). */
export function glu(g: GraphBuilder, x: string, axis: number): string {
  const [a, b] = g.opN('Split', [x], 2, { axis }, 'glu_split');
  return g.op('Mul', [a, g.op('Sigmoid', [b])], {}, 'glu');
}

/** y = x·Wᵀ + b over the last axis (x of any rank ≥ 2). */
export function linear(
  g: GraphBuilder,
  x: string,
  name: string,
  w: Weight,
  b?: Float32Array,
): string {
  const [out, inp] = w.shape;
  const wt = new Float32Array(inp * out); // (in, out) for MatMul
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) wt[i * out + o] = w.data[o * inp + i];
  let y = g.op('MatMul', [x, g.initializer(`${name}.weight_t`, wt, [inp, out])], {}, name);
  if (b) y = g.op('Add', [y, g.initializer(`${name}.bias`, b, [out])], {}, `${name}_bias`);
  return y;
}

/** LayerNormalization over the last axis (opset 17). */
export function layerNorm(
  g: GraphBuilder,
  x: string,
  name: string,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
): string {
  const d = weight.length;
  return g.op(
    'LayerNormalization',
    [x, g.initializer(`${name}.weight`, weight, [d]), g.initializer(`${name}.bias`, bias, [d])],
    { axis: -1, epsilon: attr.float(eps) },
    name,
  );
}

export interface AttentionWeights {
  inProjWeight: Float32Array; // (3d, d): q, k, v rows stacked (PyTorch in_proj_weight)
  inProjBias: Float32Array; // (3d)
  outProjWeight: Float32Array; // (d, d)
  outProjBias: Float32Array; // (d)
}

/** Multi-head self-attention over the time axis of x (B, T, d), from primitives:
 *  packed QKV projection, per-head scaled dot product, softmax, output projection. */
export function selfAttention(
  g: GraphBuilder,
  x: string,
  name: string,
  a: AttentionWeights,
  d: number,
  heads: number,
): string {
  if (d % heads) throw new Error(`attention: d=${d} not divisible by ${heads} heads`);
  const dh = d / heads;
  const qkv = linear(
    g,
    x,
    `${name}.in_proj`,
    { data: a.inProjWeight, shape: [3 * d, d] },
    a.inProjBias,
  ); // (B,T,3d)
  const [q, k, v] = g.opN('Split', [qkv, g.int64s([d, d, d])], 3, { axis: -1 }, `${name}_qkv`);
  const toHeads = (t: string) =>
    g.op(
      'Transpose',
      [g.op('Reshape', [t, g.int64s([0, 0, heads, dh])], {}, `${name}_heads`)],
      { perm: [0, 2, 1, 3] },
      `${name}_bhtd`,
    );
  const qh = g.op('Mul', [toHeads(q), g.floats([1 / Math.sqrt(dh)], [])], {}, `${name}_qscaled`); // (B,H,T,dh)
  const kt = g.op(
    'Transpose',
    [g.op('Reshape', [k, g.int64s([0, 0, heads, dh])])],
    { perm: [0, 2, 3, 1] },
    `${name}_kt`,
  ); // (B,H,dh,T)
  const scores = g.op('MatMul', [qh, kt], {}, `${name}_scores`); // (B,H,T,T)
  const p = g.op('Softmax', [scores], { axis: -1 }, `${name}_probs`);
  const ctx = g.op('MatMul', [p, toHeads(v)], {}, `${name}_ctx`); // (B,H,T,dh)
  const merged = g.op(
    'Reshape',
    [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, d])],
    {},
    `${name}_merged`,
  );
  return linear(
    g,
    merged,
    `${name}.out_proj`,
    { data: a.outProjWeight, shape: [d, d] },
    a.outProjBias,
  );
}

/** Attention in which each position attends only to itself (model.attention 'self'): the softmax
 *  over one key is 1, so the output is out_proj(v_proj(x)) per position. x (B, T, d). */
export function selfOnlyAttention(
  g: GraphBuilder,
  x: string,
  name: string,
  a: AttentionWeights,
  d: number,
): string {
  const v = linear(
    g,
    x,
    `${name}.v_proj`,
    { data: a.inProjWeight.subarray(2 * d * d, 3 * d * d), shape: [d, d] },
    a.inProjBias.subarray(2 * d, 3 * d),
  );
  return linear(g, v, `${name}.out_proj`, { data: a.outProjWeight, shape: [d, d] }, a.outProjBias);
}
