// Op parity with PyTorch: every engine op (forward outputs and gradients) against
// /usr/bin/python3 torch on fixed random inputs. The engine runs first; the inputs, case
// names and which inputs need gradients go to a temp dir; tools/torch_ref/ops_parity.py runs
// ONCE for all cases and writes raw outputs back. fp32 within 1e-5 (conv 1e-4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as E from '../src/engine/index.js';
import { Tensor, F, tidy } from '../src/engine/index.js';

const PY = '/usr/bin/python3';
const SCRIPT = new URL('../../tools/torch_ref/ops_parity.py', import.meta.url).pathname;

// ---- deterministic inputs ----------------------------------------------------------------
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Kind = 'normal' | 'positive' | 'unit' | 'probs' | { int: [number, number] };
interface InputSpec {
  shape: number[];
  kind?: Kind;
  dtype?: E.DType;
}
const hashName = (s: string): number =>
  [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);

function makeInput(
  name: string,
  spec: InputSpec,
): { bytes: Uint8Array; dtype: E.DType; shape: number[] } {
  const r = rng(hashName(name));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const kind = spec.kind ?? 'normal';
  if (typeof kind === 'object') {
    const [lo, hi] = kind.int;
    const a = BigInt64Array.from({ length: n }, () => BigInt(lo + Math.floor(r() * (hi - lo))));
    return { bytes: new Uint8Array(a.buffer), dtype: 'int64', shape: spec.shape };
  }
  const vals = Array.from({ length: n }, () => {
    if (kind === 'unit') return r();
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    return kind === 'positive' || kind === 'probs' ? Math.abs(g) + 0.2 : g;
  });
  if (kind === 'probs') {
    const rows = spec.shape[spec.shape.length - 1];
    for (let i = 0; i < n; i += rows) {
      const s = vals.slice(i, i + rows).reduce((a, b) => a + b, 0);
      for (let j = i; j < i + rows; j++) vals[j] /= s;
    }
  }
  const dtype = spec.dtype ?? 'float32';
  const arr = dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals);
  return { bytes: new Uint8Array(arr.buffer), dtype, shape: spec.shape };
}

const INPUTS: Record<string, InputSpec> = {
  a: { shape: [3, 4] },
  b: { shape: [4] },
  c: { shape: [3, 4] },
  d: { shape: [4, 3] },
  p: { shape: [3, 4], kind: 'positive' },
  d2: { shape: [3, 4] },
  i: { shape: [4], kind: { int: [0, 4] } },
  ig: { shape: [3, 4, 2], kind: { int: [0, 5] } },
  x: { shape: [3, 4, 5] },
  y: { shape: [3, 2, 5] },
  z: { shape: [3, 4, 5] },
  v: { shape: [1, 4, 1] },
  m: { shape: [4, 4] },
  n: { shape: [4, 3] },
  n5: { shape: [5, 2] },
  bq: { shape: [2, 3, 4] },
  bk: { shape: [2, 5, 4] },
  bv: { shape: [2, 5, 6] },
  w65: { shape: [6, 5] },
  b6: { shape: [6] },
  b4: { shape: [4] },
  w4: { shape: [4] },
  w5: { shape: [5] },
  b5: { shape: [5] },
  w45: { shape: [4, 5] },
  rm4: { shape: [4] },
  rv4: { shape: [4], kind: 'positive' },
  s4: { shape: [4] },
  x1: { shape: [2, 4, 9] },
  x1t: { shape: [2, 9, 4] },
  w1: { shape: [6, 4, 3] },
  w1g: { shape: [6, 2, 3] },
  x2: { shape: [2, 4, 7, 7] },
  w2: { shape: [6, 4, 3, 3] },
  w2d: { shape: [4, 1, 3, 3] },
  w2s: { shape: [5, 4, 3, 3] },
  x3f: { shape: [2, 1, 3, 10, 10] },
  w3f: { shape: [4, 1, 3, 5, 5] },
  x3: { shape: [1, 4, 5, 6, 6] },
  w3g: { shape: [4, 2, 3, 3, 3] },
  lp: { shape: [6, 5] },
  zl: { shape: [6, 5] },
  t: { shape: [6], kind: { int: [0, 5] } },
  cw: { shape: [5], kind: 'positive' },
  q: { shape: [6, 5], kind: 'probs' },
  p01: { shape: [4, 5], kind: 'unit' },
};

// ---- cases: name -> inputs and the engine computation (mirrors ops_parity.py CASES) ---------
type Out = Tensor | Tensor[];
interface Case {
  inputs: string[];
  run: (...xs: Tensor[]) => Out;
  seed?: number;
  tol?: number;
  grad?: boolean;
}
const bnTrain = (x: Tensor, w: Tensor, b: Tensor, momentum = 0.1, eps = 1e-5): Tensor[] => {
  const c = x.dims[1];
  const rm = E.linspace(-0.5, 0.5, c),
    rv = E.linspace(0.5, 1.5, c);
  return [F.batchNorm(x, rm, rv, w, b, { training: true, momentum, eps }), rm, rv];
};
/** inputs that are never differentiated (running stats, class weights) */
const NO_GRAD = new Set(['rm4', 'rv4', 'cw']);
/** one AdamW update with the in-place ops optimizers use (mirrors adamw_step in ops_parity.py) */
function adamwStep(p0: Tensor, g: Tensor, m0: Tensor, v0: Tensor): Tensor[] {
  const [p, m, v] = [p0.clone(), m0.clone(), v0.clone()];
  const [lr, b1, b2, eps, wd, t] = [1e-2, 0.9, 0.98, 1e-8, 5e-4, 3];
  p.mul_(1 - lr * wd);
  m.lerp_(g, 1 - b1);
  v.mul_(b2).addcmul_(g, g, 1 - b2);
  const denom = v
    .sqrt()
    .div_(Math.sqrt(1 - b2 ** t))
    .add_(eps);
  p.addcdiv_(m, denom, -lr / (1 - b1 ** t));
  return [p, m, v];
}
function foreachUpdate(a: Tensor, c: Tensor, p: Tensor): Tensor[] {
  const xs = [a.clone(), c.clone()];
  E.foreachMul_(xs, 0.5);
  E.foreachAdd_(xs, [c, a], 2);
  E.foreachAddcmul_(xs, [a, c], [p, p], 0.1);
  E.foreachAddcdiv_(xs, [c, a], [p, p], -0.2);
  return xs;
}
const vi = (r: E.ValuesIndices): Tensor[] => [r.values, r.indices];
const CONV = 1e-4;

const CASES: Record<string, Case> = {
  zeros: { inputs: [], run: () => E.zeros([2, 3]) },
  ones_int32: { inputs: [], run: () => E.ones([3], { dtype: 'int32' }) },
  full: { inputs: [], run: () => E.full([2, 2], 3.5) },
  arange_int: { inputs: [], run: () => E.arange(2, 11, 3) },
  arange_float: { inputs: [], run: () => E.arange(0, 1, 0.25, { dtype: 'float32' }) },
  linspace: { inputs: [], run: () => E.linspace(0, 1, 5) },
  eye: { inputs: [], run: () => E.eye(3) },
  rand: { inputs: [], seed: 11, run: () => E.rand([3, 4]) },
  randn: { inputs: [], seed: 12, run: () => E.randn([3, 4]) },
  randint: { inputs: [], seed: 13, run: () => E.randint(0, 10, [7]) },
  bernoulli_p: { inputs: [], seed: 14, run: () => E.bernoulli(0.3, [20]) },
  bernoulli_t: { inputs: ['p01'], seed: 15, run: (p) => E.bernoulli(p) },
  dropout: { inputs: ['x'], seed: 16, run: (x) => F.dropout(x, 0.3, true) },
  add_bcast: { inputs: ['a', 'b'], run: (a, b) => a.add(b, 2) },
  sub_scalar: { inputs: ['a'], run: (a) => a.sub(1.5) },
  rsub: { inputs: ['a'], run: (a) => a.rsub(2) },
  mul_bcast: { inputs: ['a', 'c'], run: (a, c) => a.mul(c) },
  div: { inputs: ['a', 'p'], run: (a, p) => a.div(p) },
  div_scalar: { inputs: ['a'], run: (a) => a.div(3) },
  div_floor: { inputs: ['a', 'p'], run: (a, p) => a.div(p, 'floor') },
  pow_scalar: { inputs: ['p'], run: (p) => p.pow(2.5) },
  pow_tensor: { inputs: ['p', 'b'], run: (p, b) => p.pow(b) },
  sqrt: { inputs: ['p'], run: (p) => p.sqrt() },
  rsqrt: { inputs: ['p'], run: (p) => p.rsqrt() },
  exp: { inputs: ['a'], run: (a) => a.exp() },
  log: { inputs: ['p'], run: (p) => p.log() },
  log1p: { inputs: ['p'], run: (p) => p.log1p() },
  abs: { inputs: ['a'], run: (a) => a.abs() },
  neg: { inputs: ['a'], run: (a) => a.neg() },
  tanh: { inputs: ['a'], run: (a) => a.tanh() },
  sin: { inputs: ['a'], run: (a) => a.sin() },
  erf: { inputs: ['a'], run: (a) => a.erf() },
  square: { inputs: ['a'], run: (a) => a.square() },
  reciprocal: { inputs: ['p'], run: (p) => p.reciprocal() },
  clamp: { inputs: ['a'], run: (a) => a.clamp(-0.5, 0.5) },
  clamp_min: { inputs: ['a'], run: (a) => a.clamp(0) },
  clamp_tensor: { inputs: ['a', 'b'], run: (a, b) => a.clamp(b) },
  maximum: { inputs: ['a', 'c'], run: (a, c) => E.maximum(a, c) },
  minimum: { inputs: ['a', 'c'], run: (a, c) => E.minimum(a, c) },
  lerp: { inputs: ['a', 'c'], run: (a, c) => a.lerp(c, 0.3) },
  eq_scalar: { inputs: ['i'], run: (i) => i.eq(2) },
  lt_tensor: { inputs: ['a', 'b'], run: (a, b) => a.lt(b) },
  ge_scalar: { inputs: ['a'], run: (a) => a.ge(0.1) },
  logical: {
    inputs: ['a', 'b'],
    run: (a, b) => a.gt(0).logicalAnd(b.gt(0)).logicalOr(a.gt(1).logicalNot()),
  },
  where_tensor: { inputs: ['a', 'c'], run: (a, c) => E.where(a.gt(0), a, c) },
  where_scalar: { inputs: ['a'], run: (a) => E.where(a.gt(0), a, 0) },
  masked_fill: { inputs: ['a'], run: (a) => a.maskedFill(a.lt(0), -1) },
  noncontig_mul: { inputs: ['a', 'd'], run: (a, d) => a.t().mul(d) },
  noncontig_exp: { inputs: ['x'], run: (x) => x.permute([2, 0, 1]).exp() },
  sum_all: { inputs: ['x'], run: (x) => x.sum() },
  sum_dims: { inputs: ['x'], run: (x) => x.sum({ dim: [1, 2], keepdim: true }) },
  mean_all: { inputs: ['x'], run: (x) => x.mean() },
  mean_dim: { inputs: ['x'], run: (x) => x.mean({ dim: 1 }) },
  max_all: { inputs: ['x'], run: (x) => x.max() },
  max_dim: { inputs: ['x'], run: (x) => vi(x.max({ dim: 1 })) },
  min_dim: { inputs: ['x'], run: (x) => vi(x.min({ dim: 2, keepdim: true })) },
  argmax_dim: { inputs: ['x'], run: (x) => x.argmax({ dim: 1 }) },
  argmax_all: { inputs: ['x'], run: (x) => x.argmax() },
  topk: { inputs: ['x'], run: (x) => vi(x.topk(2, { dim: -1 })) },
  topk_smallest: { inputs: ['x'], run: (x) => vi(x.topk(3, { dim: 1, largest: false })) },
  var_dim: { inputs: ['x'], run: (x) => x.var({ dim: 1 }) },
  var_biased: { inputs: ['x'], run: (x) => x.var({ unbiased: false }) },
  std_dim: { inputs: ['x'], run: (x) => x.std({ dim: [0, 2], keepdim: true }) },
  logsumexp: { inputs: ['x'], run: (x) => x.logsumexp(-1) },
  amax: { inputs: ['x'], run: (x) => x.amax([1, 2]) },
  cumsum: { inputs: ['x'], run: (x) => x.cumsum(1) },
  prod: { inputs: ['x'], run: (x) => x.prod({ dim: 2 }) },
  norm: { inputs: ['x'], run: (x) => x.norm(2) },
  sort: { inputs: ['x'], run: (x) => vi(x.sort({ dim: -1, descending: true })) },
  reshape: { inputs: ['x'], run: (x) => x.reshape([5, 12]) },
  view: { inputs: ['x'], run: (x) => x.view([-1, 4, 5]) },
  permute: { inputs: ['x'], run: (x) => x.permute([2, 0, 1]).contiguous() },
  transpose: { inputs: ['x'], run: (x) => x.transpose(0, 2) },
  cat: { inputs: ['x', 'y'], run: (x, y) => E.cat([x, y], 1) },
  stack: { inputs: ['x', 'z'], run: (x, z) => E.stack([x, z, x], 1) },
  narrow: { inputs: ['x'], run: (x) => x.narrow(2, 1, 3) },
  slice_step: { inputs: ['x'], run: (x) => x.slice(1, 1, null, 2) },
  slice_neg: { inputs: ['x'], run: (x) => x.slice(-1, -3, -1) },
  index_select: { inputs: ['x', 'i'], run: (x, i) => x.indexSelect(1, i) },
  gather: { inputs: ['x', 'ig'], run: (x, i) => x.gather(2, i) },
  flip: { inputs: ['x'], run: (x) => x.flip([0, 2]) },
  pad_const: { inputs: ['x'], run: (x) => F.pad(x, [1, 2], 'constant', 0.5) },
  pad_reflect: { inputs: ['x'], run: (x) => F.pad(x, [2, 1], 'reflect') },
  pad_replicate_2d: { inputs: ['x'], run: (x) => F.pad(x, [1, 1, 2, 0], 'replicate') },
  expand: { inputs: ['v'], run: (v) => v.expand([3, 4, 5]) },
  squeeze: { inputs: ['v'], run: (v) => v.squeeze() },
  squeeze_dim: { inputs: ['v'], run: (v) => v.squeeze(0) },
  unsqueeze: { inputs: ['x'], run: (x) => x.unsqueeze(1) },
  flatten: { inputs: ['x'], run: (x) => x.flatten(1) },
  split: { inputs: ['x'], run: (x) => x.split(2, 2) },
  chunk: { inputs: ['x'], run: (x) => x.chunk(3, 1) },
  unbind: { inputs: ['x'], run: (x) => x.unbind(0) },
  select: { inputs: ['x'], run: (x) => x.select(1, 2) },
  index_adv: { inputs: ['x', 'i'], run: (x, i) => x.index([null, i]) },
  repeat: { inputs: ['x'], run: (x) => x.repeat([1, 2, 1]) },
  roll: { inputs: ['x'], run: (x) => x.roll(1, 2) },
  tril: { inputs: ['m'], run: (m) => m.tril() },
  matmul_2d: { inputs: ['m', 'n'], run: (m, n) => m.matmul(n) },
  matmul_bcast: { inputs: ['x', 'n5'], run: (x, n5) => x.matmul(n5) },
  bmm: { inputs: ['bq', 'bk'], run: (q, k) => q.bmm(k.transpose(1, 2)) },
  linear: { inputs: ['x', 'w65', 'b6'], run: (x, w, b) => F.linear(x, w, b) },
  linear_nobias: { inputs: ['x', 'w65'], run: (x, w) => F.linear(x, w) },
  einsum: { inputs: ['bq', 'bk'], run: (q, k) => E.einsum('bid,bjd->bij', q, k) },
  attention: {
    inputs: ['bq', 'bk', 'bv'],
    run: (q, k, v) => F.scaledDotProductAttention(q, k, v, { useFused: false }),
  },
  conv1d: {
    inputs: ['x1', 'w1', 'b6'],
    tol: CONV,
    run: (x, w, b) => F.conv1d(x, w, b, { stride: 2, padding: 1 }),
  },
  conv1d_dil_groups: {
    inputs: ['x1', 'w1g'],
    tol: CONV,
    run: (x, w) => F.conv1d(x, w, null, { dilation: 2, padding: 2, groups: 2 }),
  },
  conv1d_noncontig: {
    inputs: ['x1t', 'w1', 'b6'],
    tol: CONV,
    run: (x, w, b) => F.conv1d(x.transpose(1, 2), w, b, { padding: 1 }),
  },
  conv2d: {
    inputs: ['x2', 'w2', 'b6'],
    tol: CONV,
    run: (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }),
  },
  conv2d_depthwise: {
    inputs: ['x2', 'w2d'],
    tol: CONV,
    run: (x, w) => F.conv2d(x, w, null, { padding: 1, groups: 4 }),
  },
  conv2d_same_dil: {
    inputs: ['x2', 'w2s'],
    tol: CONV,
    run: (x, w) => F.conv2d(x, w, null, { padding: 'same', dilation: 2 }),
  },
  conv3d_frontend: {
    inputs: ['x3f', 'w3f', 'b4'],
    tol: CONV,
    run: (x, w, b) => F.conv3d(x, w, b, { stride: [1, 2, 2], padding: [1, 2, 2] }),
  },
  conv3d_groups_dil: {
    inputs: ['x3', 'w3g'],
    tol: CONV,
    run: (x, w) => F.conv3d(x, w, null, { padding: 2, dilation: 2, groups: 2 }),
  },
  batch_norm2d_train: { inputs: ['x2', 'w4', 'b4'], run: (x, w, b) => bnTrain(x, w, b) },
  batch_norm3d_train: {
    inputs: ['x3', 'w4', 'b4'],
    run: (x, w, b) => bnTrain(x, w, b, 0.01, 1e-3),
  },
  batch_norm1d_eval: {
    inputs: ['x', 'w4', 'b4', 'rm4', 'rv4'],
    run: (x, w, b, rm, rv) => F.batchNorm(x, rm, rv, w, b, { training: false }),
  },
  layer_norm: { inputs: ['x', 'w5', 'b5'], run: (x, w, b) => F.layerNorm(x, [5], w, b) },
  layer_norm_2d: { inputs: ['x', 'w45'], run: (x, w) => F.layerNorm(x, [4, 5], w, null, 1e-6) },
  group_norm: { inputs: ['x2', 'w4', 'b4'], run: (x, w, b) => F.groupNorm(x, 2, w, b) },
  relu: { inputs: ['a'], run: (a) => F.relu(a) },
  silu: { inputs: ['a'], run: (a) => F.silu(a) },
  sigmoid: { inputs: ['a'], run: (a) => F.sigmoid(a) },
  prelu: { inputs: ['x', 's4'], run: (x, s) => F.prelu(x, s) },
  glu: { inputs: ['x'], run: (x) => F.glu(x, 1) },
  gelu: { inputs: ['a'], run: (a) => F.gelu(a) },
  gelu_tanh: { inputs: ['a'], run: (a) => F.gelu(a, 'tanh') },
  softmax: { inputs: ['x'], run: (x) => F.softmax(x, 1) },
  log_softmax: { inputs: ['x'], run: (x) => F.logSoftmax(x, -1) },
  leaky_relu: { inputs: ['a'], run: (a) => F.leakyRelu(a, 0.1) },
  hardswish: { inputs: ['a'], run: (a) => F.hardswish(a) },
  adaptive_avg_pool1d: { inputs: ['x'], run: (x) => F.adaptiveAvgPool1d(x, 1) },
  adaptive_avg_pool2d: { inputs: ['x2'], run: (x) => F.adaptiveAvgPool2d(x, [2, 3]) },
  adaptive_avg_pool3d: { inputs: ['x3'], run: (x) => F.adaptiveAvgPool3d(x, 1) },
  max_pool3d: {
    inputs: ['x3f'],
    run: (x) => F.maxPool3d(x, [1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] }),
  },
  max_pool2d: { inputs: ['x2'], run: (x) => F.maxPool2d(x, 2) },
  avg_pool2d: { inputs: ['x2'], run: (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }) },
  nll_mean: { inputs: ['lp', 't'], run: (lp, t) => F.nllLoss(lp, t) },
  nll_weight_sum: {
    inputs: ['lp', 't', 'cw'],
    run: (lp, t, cw) => F.nllLoss(lp, t, { weight: cw, reduction: 'sum' }),
  },
  nll_none_ignore: {
    inputs: ['lp', 't'],
    run: (lp, t) => F.nllLoss(lp, t, { reduction: 'none', ignoreIndex: 1 }),
  },
  ce_mean: { inputs: ['zl', 't'], run: (z, t) => F.crossEntropy(z, t) },
  ce_smooth: { inputs: ['zl', 't'], run: (z, t) => F.crossEntropy(z, t, { labelSmoothing: 0.1 }) },
  ce_weight_smooth: {
    inputs: ['zl', 't', 'cw'],
    run: (z, t, cw) => F.crossEntropy(z, t, { weight: cw, labelSmoothing: 0.2 }),
  },
  ce_none: { inputs: ['zl', 't'], run: (z, t) => F.crossEntropy(z, t, { reduction: 'none' }) },
  ce_probs: { inputs: ['zl', 'q'], run: (z, q) => F.crossEntropy(z, q) },
  mse: { inputs: ['a', 'c'], run: (a, c) => F.mseLoss(a, c) },
  add_: { inputs: ['a', 'c'], run: (a, c) => a.clone().add_(c, 0.5) },
  sub_scalar_: { inputs: ['a'], run: (a) => a.clone().sub_(0.25) },
  mul_: { inputs: ['a', 'c'], run: (a, c) => a.clone().mul_(c) },
  mul_scalar_: { inputs: ['a'], run: (a) => a.clone().mul_(0.9) },
  div_: { inputs: ['a', 'p'], run: (a, p) => a.clone().div_(p) },
  addcmul_: { inputs: ['a', 'c', 'p'], run: (a, c, p) => a.clone().addcmul_(c, p, 0.3) },
  addcdiv_: { inputs: ['a', 'c', 'p'], run: (a, c, p) => a.clone().addcdiv_(c, p, -0.1) },
  lerp_: { inputs: ['a', 'c'], run: (a, c) => a.clone().lerp_(c, 0.25) },
  copy_: { inputs: ['a'], run: (a) => E.zeros([3, 4]).copy_(a) },
  zero_fill_: { inputs: ['a'], run: (a) => E.stack([a.clone().zero_(), a.clone().fill_(2.5)]) },
  clamp_sqrt_: { inputs: ['p'], run: (p) => p.clone().clamp_(0.5, 1.5).sqrt_() },
  masked_fill_: { inputs: ['a'], run: (a) => a.clone().maskedFill_(a.gt(0.5), 0) },
  uniform_: { inputs: [], seed: 21, run: () => E.empty([3, 4]).uniform_(-1, 1) },
  normal_: { inputs: [], seed: 22, run: () => E.empty([3, 4]).normal_(2, 0.5) },
  adamw_step: { inputs: ['a', 'c', 'd2', 'p'], grad: false, run: adamwStep },
  foreach: { inputs: ['a', 'c', 'p'], grad: false, run: foreachUpdate },
  autocast_conv2d: {
    inputs: ['x2', 'w2', 'b6'],
    run: (x, w, b) => E.autocast(() => F.conv2d(x, w, b, { stride: 2, padding: 1 })),
  },
  autocast_linear: {
    inputs: ['x', 'w65', 'b6'],
    run: (x, w, b) => E.autocast(() => F.linear(x, w, b)),
  },
  autocast_softmax_of_matmul: {
    inputs: ['m', 'n'],
    run: (m, n) => E.autocast(() => m.matmul(n).softmax(-1)),
  },
  to_float64: { inputs: ['a'], run: (a) => a.double().mul(3) },
  to_float16: { inputs: ['a'], run: (a) => a.half() },
  to_bfloat16: { inputs: ['a'], run: (a) => a.bfloat16() },
  half_roundtrip: { inputs: ['a'], run: (a) => a.half().float().mul(2) },
  int_to_float: { inputs: ['i'], run: (i) => i.float().div(2) },
};

// ---- comparison ---------------------------------------------------------------------------
interface Stored {
  file: string;
  shape: number[];
  dtype: E.DType;
}
interface Result {
  outputs?: Stored[];
  grads?: (Stored | { none: true })[];
  error?: string;
}

function compare(
  what: string,
  got: Tensor | null,
  ref: Stored | { none: true } | undefined,
  dir: string,
  tol: number,
): string | null {
  if (!ref) return `${what}: missing in reference`;
  if ('none' in ref)
    return got === null ? null : `${what}: reference has no gradient, engine has one`;
  if (got === null) return `${what}: engine has no gradient, reference has one`;
  if (got.dtype !== ref.dtype) return `${what}: dtype ${got.dtype} vs ${ref.dtype}`;
  if (got.shape.join(',') !== ref.shape.join(','))
    return `${what}: shape [${got.shape}] vs [${ref.shape}]`;
  const refBytes = readFileSync(path.join(dir, ref.file));
  const gotBytes = got.toBytes();
  if (!['float32', 'float64'].includes(ref.dtype)) {
    // integers, bools and half types: exact (same kernels, same rounding)
    return Buffer.compare(Buffer.from(gotBytes), refBytes) === 0
      ? null
      : `${what}: ${ref.dtype} values differ`;
  }
  const Arr = ref.dtype === 'float64' ? Float64Array : Float32Array;
  const r = new Arr(
    refBytes.buffer as ArrayBuffer,
    refBytes.byteOffset,
    refBytes.byteLength / Arr.BYTES_PER_ELEMENT,
  );
  const g = new Arr(
    gotBytes.buffer as ArrayBuffer,
    gotBytes.byteOffset,
    gotBytes.byteLength / Arr.BYTES_PER_ELEMENT,
  );
  let worst = 0;
  for (let k = 0; k < r.length; k++) {
    const err = Math.abs(g[k] - r[k]) / (1 + Math.abs(r[k]));
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst <= tol ? null : `${what}: max relative error ${worst.toExponential(2)} > ${tol}`;
}

test('op parity with python3-torch (forward and gradients)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eflip-parity-'));
  E.setNumThreads(1);
  try {
    // 1. inputs
    const inputFiles: Record<string, Stored> = {};
    for (const [name, spec] of Object.entries(INPUTS)) {
      const inp = makeInput(name, spec);
      writeFileSync(path.join(dir, `in_${name}.bin`), inp.bytes);
      inputFiles[name] = { file: `in_${name}.bin`, shape: inp.shape, dtype: inp.dtype };
    }
    const load = (name: string): Tensor => {
      const s = inputFiles[name];
      return E.fromBytes(readFileSync(path.join(dir, s.file)), s.dtype, s.shape);
    };
    // 2. engine side (kept until compared)
    const engine = new Map<
      string,
      { outs: Tensor[]; grads: (Tensor | null)[]; gradIdx: number[] } | { error: string }
    >();
    const manifest: {
      cases: { name: string; inputs: Stored[]; grad: number[]; seed: number | null }[];
    } = { cases: [] };
    for (const [name, c] of Object.entries(CASES)) {
      let res: { outs: Tensor[]; grads: (Tensor | null)[]; gradIdx: number[] } | { error: string };
      try {
        res = tidy(() => {
          const xs = c.inputs.map(load);
          const gradIdx = xs
            .map((x, k) =>
              (x.dtype === 'float32' || x.dtype === 'float64') && !NO_GRAD.has(c.inputs[k])
                ? k
                : -1,
            )
            .filter((k) => k >= 0);
          for (const k of gradIdx) xs[k].requiresGrad_();
          if (c.seed !== undefined) E.manualSeed(c.seed);
          const out = c.run(...xs);
          const outs = Array.isArray(out) ? out : [out];
          const o = outs[0];
          if (c.grad === false || !o.requiresGrad || gradIdx.length === 0)
            return { outs: outs.map((x) => x.detach()), grads: [], gradIdx: [] };
          const n = o.numel;
          const g = E.arange(0, n, 1, { dtype: 'float64' }).cos().reshape(o.shape).to(o.dtype);
          o.mul(g).sum().backward();
          return {
            outs: outs.map((x) => x.detach()),
            grads: gradIdx.map((k) => xs[k].grad),
            gradIdx,
          };
        });
      } catch (e) {
        res = { error: String((e as Error).message) };
      }
      engine.set(name, res);
      manifest.cases.push({
        name,
        inputs: c.inputs.map((k) => inputFiles[k]),
        grad: 'gradIdx' in res ? res.gradIdx : [],
        seed: c.seed ?? null,
      });
    }
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    // 3. PyTorch side, once
    const py = spawnSync(PY, [SCRIPT, dir], { encoding: 'utf8' });
    assert.equal(py.status, 0, `ops_parity.py failed: ${py.stderr}`);
    const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as Record<
      string,
      Result
    >;
    // 4. compare, one subtest per case
    for (const [name, c] of Object.entries(CASES)) {
      await t.test(name, () => {
        const ref = results[name];
        const mine = engine.get(name)!;
        if ('error' in mine) assert.fail(`engine failed: ${mine.error}`);
        assert.ok(ref && !ref.error, `reference failed: ${ref?.error}`);
        const tol = c.tol ?? 1e-5;
        const problems: string[] = [];
        assert.equal(mine.outs.length, ref.outputs!.length, 'number of outputs');
        mine.outs.forEach((o, k) => {
          const p = compare(`output ${k}`, o, ref.outputs![k], dir, tol);
          if (p) problems.push(p);
        });
        assert.equal(mine.grads.length, ref.grads!.length, 'number of gradients');
        mine.grads.forEach((g, k) => {
          const p = compare(`grad of input ${mine.gradIdx[k]}`, g, ref.grads![k], dir, tol);
          if (p) problems.push(p);
        });
        assert.deepEqual(problems, []);
      });
    }
    for (const r of engine.values())
      if (!('error' in r)) for (const x of [...r.outs, ...r.grads]) x?.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
