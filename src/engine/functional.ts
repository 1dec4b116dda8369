// torch.nn.functional, camelCased: F.conv3d(x, w, b, {stride, padding, dilation, groups}), ...
// Shapes follow PyTorch: conv inputs (N, C, ...spatial), weights (Cout, Cin/groups, ...k).
import { native } from './native.js';
import { OP, hasOp } from './ops.js';
import { Tensor, wrap, handleOf as h, handleOrNull as hOpt, type Shape } from './tensor.js';
import { ArgumentError, ShapeError } from './errors.js';
import { tidy } from './scope.js';
import { torchConfig } from './runtime.js';
import { isAutocastEnabled } from './autocast.js';
import { envSwitch } from '../env_switch.js';

type IntOrList = number | number[];
export interface ConvOptions {
  stride?: IntOrList;
  /** integers, or 'same' / 'valid' (stride 1) like PyTorch */
  padding?: IntOrList | 'same' | 'valid';
  dilation?: IntOrList;
  groups?: number;
}
export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
function reduction(r: Reduction | undefined): number {
  const v = REDUCTION[r ?? 'mean'];
  if (v === undefined)
    throw new ArgumentError(`reduction must be 'none', 'mean' or 'sum', got '${r}'`);
  return v;
}
const list = (v: IntOrList | undefined, n: number, d: number): number[] =>
  v === undefined ? Array(n).fill(d) : typeof v === 'number' ? Array(n).fill(v) : v;
/** Largest stride / padding / dilation / groups: libtorch sizes its output in int64 from
 *  (kernel − 1) · dilation + 2 · padding, which a larger value overflows (a wrong shape, no error). */
const MAX_CONV_INT = 2 ** 31 - 1;
/** A conv's stride / padding / dilation: nd integers in [min, 2^31 − 1]. */
function convInts(
  name: string,
  v: IntOrList | undefined,
  nd: number,
  d: number,
  min: number,
  op: string,
): number[] {
  const xs = list(v, nd, d);
  if (!Array.isArray(xs) || xs.length !== nd)
    throw new ArgumentError(
      `${op}: ${name} must be an integer or ${nd} integers, got ${String(v)}`,
    );
  for (const x of xs)
    if (!Number.isInteger(x) || x < min || x > MAX_CONV_INT)
      throw new ArgumentError(
        `${op}: ${name} must be ${nd > 1 ? `${nd} integers` : 'an integer'} in [${min}, ${MAX_CONV_INT}], got ${JSON.stringify(v)}`,
      );
  return xs;
}

function conv(
  nd: 1 | 2 | 3,
  x: Tensor,
  w: Tensor,
  b: Tensor | null | undefined,
  o: ConvOptions,
): Tensor {
  const name = `conv${nd}d`;
  h(x);
  h(w);
  const xr = x.ndim,
    wr = w.ndim;
  if (xr !== nd + 2 && xr !== nd + 1)
    throw new ShapeError(
      `conv${nd}d: input must be ${nd + 2}-d (N, C, ...) or ${nd + 1}-d (C, ...), got shape [${x.dims.join(', ')}]`,
    );
  if (wr !== nd + 2)
    throw new ShapeError(
      `conv${nd}d: weight must be ${nd + 2}-d (Cout, Cin/groups, ...kernel), got shape [${w.dims.join(', ')}]`,
    );
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || groups > MAX_CONV_INT)
    throw new ArgumentError(`${name}: groups must be a positive integer, got ${String(groups)}`);
  const cin = x.dims[xr - nd - 1];
  if (w.dims[1] * groups !== cin) {
    throw new ShapeError(
      `conv${nd}d: input has ${cin} channels but weight [${w.dims.join(', ')}] with groups=${groups} expects ${w.dims[1] * groups}`,
    );
  }
  const stride = convInts('stride', o.stride, nd, 1, 1, name),
    dilation = convInts('dilation', o.dilation, nd, 1, 1, name);
  if (typeof o.padding === 'string') {
    const op = nd === 1 ? OP.conv1dPad : nd === 2 ? OP.conv2dPad : OP.conv3dPad;
    return wrap(native.call(op, h(x), h(w), hOpt(b), stride, o.padding, dilation, groups));
  }
  const op = nd === 1 ? OP.conv1d : nd === 2 ? OP.conv2d : OP.conv3d;
  return wrap(
    native.call(
      op,
      h(x),
      h(w),
      hOpt(b),
      stride,
      convInts('padding', o.padding, nd, 0, 0, name),
      dilation,
      groups,
    ),
  );
}
export const conv1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor =>
  conv(1, x, w, b, o);
export const conv2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor =>
  conv(2, x, w, b, o);
export const conv3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor =>
  conv(3, x, w, b, o);

let linearAsConv: boolean | null = null;

/** Whether CPU linears run as 1×1 convolutions. libtorch builds without an optimised BLAS
 *  (`BLAS_INFO=generic`, e.g. Debian's libtorch-dev) compute aten::mm/addmm with a plain loop
 *  (~1 GFLOP/s here) while convolutions go through oneDNN: a (232×384)·(384×1152) projection
 *  takes 82 ms as addmm and 5 ms as a 1×1 conv (PyTorch eager on the same build pays the 82).
 *  float32 only: bf16 matmuls (also under CPU autocast) already go to oneDNN and beat the conv.
 *  EFLIP_LINEAR_AS_CONV=0|1 overrides the detection. */
export function linearRunsAsConv(): boolean {
  if (linearAsConv === null) {
    const env = envSwitch('EFLIP_LINEAR_AS_CONV', ['0', '1']);
    if (env !== undefined) linearAsConv = env === '1';
    else {
      const cfg = torchConfig();
      linearAsConv = /BLAS_INFO=generic/.test(cfg) && /USE_MKLDNN=ON/.test(cfg);
    }
  }
  return linearAsConv;
}

/** Force the linear path (true: 1×1 conv, false: aten::linear) or restore detection (null). */
export function setLinearRunsAsConv(on: boolean | null): void {
  linearAsConv = on;
}

/** y = x @ w^T + b; x (..., in), w (out, in). */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  const xi = x.dims[x.ndim - 1],
    wi = w.dims[w.ndim - 1];
  if (w.ndim !== 2 || xi !== wi)
    throw new ShapeError(
      `linear: input [${x.dims.join(', ')}] and weight [${w.dims.join(', ')}] do not match (need weight (out, ${xi}))`,
    );
  if (
    x.device === 'cpu' &&
    x.dtype === 'float32' &&
    !isAutocastEnabled('cpu') &&
    linearRunsAsConv() &&
    x.numel > 0 &&
    xi > 0 // the conv form cannot reshape 0 elements; aten::linear gives the zeros
  ) {
    // (..., in) → (M, in, 1, 1) ⊛ (out, in, 1, 1) → (..., out): the same sums, oneDNN's kernel
    const lead = x.dims.slice(0, -1);
    const out = w.dims[0];
    return tidy(() =>
      conv2d(x.reshape([-1, xi, 1, 1]), w.reshape([out, xi, 1, 1]), b).reshape([...lead, out]),
    );
  }
  return wrap(native.call(OP.linear, h(x), h(w), hOpt(b)));
}

export interface BatchNormOptions {
  /** training: normalise with batch statistics and update running stats in place */
  training?: boolean;
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch (default 0.1) */
  momentum?: number;
  eps?: number;
}
/** Batch norm over dim 1 of (N, C, ...). Running stats may be null (then batch stats always). */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  o: BatchNormOptions = {},
): Tensor {
  const training = o.training ?? false;
  if (!training && (!runningMean || !runningVar))
    throw new ArgumentError('batchNorm: evaluation mode needs running mean and variance');
  if (x.ndim < 2)
    throw new ShapeError(
      `batchNorm: input must be at least 2-d (N, C, ...), got [${x.dims.join(', ')}]`,
    );
  return wrap(
    native.call(
      OP.batchNorm,
      h(x),
      hOpt(weight),
      hOpt(bias),
      hOpt(runningMean),
      hOpt(runningVar),
      training,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
      true,
    ),
  );
}
/**
 * Under autocast a normalisation may receive a bfloat16/float16 activation with float32
 * affine parameters, which libtorch 1.13's CPU kernels reject; normalise in the parameters'
 * dtype then (float32, as PyTorch's autocast policy runs norms).
 */
function normInput(x: Tensor, weight: Tensor | null | undefined): Tensor | null {
  if (!weight) return null;
  const xd = native.dtype(h(x)),
    wd = native.dtype(h(weight));
  return xd !== wd && (xd === 15 || xd === 5)
    ? wrap(native.call(OP.toDtype, h(x), wd, false, false, null))
    : null;
}

/** Layer norm over the trailing `shape` dims. */
export function layerNorm(
  x: Tensor,
  shape: Shape,
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const up = normInput(x, weight);
  try {
    return wrap(native.call(OP.layerNorm, h(up ?? x), shape, hOpt(weight), hOpt(bias), eps, true));
  } finally {
    up?.dispose(); // also when the op refuses its arguments
  }
}
export function groupNorm(
  x: Tensor,
  groups: number,
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const up = normInput(x, weight);
  try {
    return wrap(native.call(OP.groupNorm, h(up ?? x), groups, hOpt(weight), hOpt(bias), eps, true));
  } finally {
    up?.dispose(); // also when the op refuses its arguments
  }
}
/** Zeroes elements with probability p and scales the rest by 1/(1-p) when training. */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new ArgumentError(`dropout: p must be in [0, 1], got ${p}`);
  return wrap(native.call(OP.dropout, h(x), p, training));
}
/** Drops whole channels (dim 1), like nn.Dropout2d/3d. */
export function featureDropout(x: Tensor, p = 0.5, training = true): Tensor {
  return wrap(native.call(OP.featureDropout, h(x), p, training));
}

export const relu = (x: Tensor): Tensor => x.relu();
/** SiLU. A bfloat16 tensor on the CPU (autocast training) is computed in float32 and rounded
 *  once to bfloat16 (within one bfloat16 step of libtorch's kernel): its bfloat16 CPU kernels ran
 *  2–3× slower than float32 (forward + backward, 232 images, channels-last, 2 threads: 128×11×11
 *  11.3 vs 6.9 ms with the casts, 384×6×6 10.2 vs 5.2). The addon does it a block at a time and
 *  saves only the bfloat16 input for the backward (native/silu_bf16.cc); `siluViaFloat32` is the
 *  same values through whole-tensor casts (it keeps a float32 copy for the backward). */
export function silu(x: Tensor): Tensor {
  if (x.dtype !== 'bfloat16' || x.device !== 'cpu') return x.silu();
  if (native.siluBf16) return wrap(native.siluBf16(h(x)));
  return siluViaFloat32(x);
}
export function siluViaFloat32(x: Tensor): Tensor {
  return tidy(() => x.float().silu().to(x.dtype));
}
export const sigmoid = (x: Tensor): Tensor => x.sigmoid();
export const tanh = (x: Tensor): Tensor => x.tanh();
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor =>
  x.gelu(approximate);
/** PReLU with a learnable slope tensor (1 or C values). */
export const prelu = (x: Tensor, weight: Tensor): Tensor =>
  wrap(native.call(OP.prelu, h(x), h(weight)));
/** GLU: a * sigmoid(b) where a, b are the halves of x along dim. */
export const glu = (x: Tensor, dim = -1): Tensor => wrap(native.call(OP.glu, h(x), dim));
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor =>
  wrap(native.call(OP.leakyRelu, h(x), slope));
export const elu = (x: Tensor, alpha = 1): Tensor => wrap(native.call(OP.elu, h(x), alpha, 1, 1));
export const hardswish = (x: Tensor): Tensor => wrap(native.call(OP.hardswish, h(x)));
export const hardsigmoid = (x: Tensor): Tensor => wrap(native.call(OP.hardsigmoid, h(x)));
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor =>
  wrap(native.call(OP.softplus, h(x), beta, threshold));
export const mish = (x: Tensor): Tensor => wrap(native.call(OP.mish, h(x)));
export const softmax = (x: Tensor, dim: number): Tensor => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => x.logSoftmax(dim);

export const adaptiveAvgPool1d = (x: Tensor, size: number): Tensor =>
  wrap(native.call(OP.adaptiveAvgPool1d, h(x), [size]));
export const adaptiveAvgPool2d = (x: Tensor, size: IntOrList): Tensor =>
  wrap(native.call(OP.adaptiveAvgPool2d, h(x), list(size, 2, 1)));
export const adaptiveAvgPool3d = (x: Tensor, size: IntOrList): Tensor =>
  wrap(native.call(OP.adaptiveAvgPool3d, h(x), list(size, 3, 1)));

export interface PoolOptions {
  stride?: IntOrList;
  padding?: IntOrList;
  dilation?: IntOrList;
  ceilMode?: boolean;
}
function maxPool(nd: 1 | 2 | 3, x: Tensor, kernel: IntOrList, o: PoolOptions): Tensor {
  const op = nd === 1 ? OP.maxPool1d : nd === 2 ? OP.maxPool2d : OP.maxPool3d;
  const k = list(kernel, nd, 1);
  const pad = list(o.padding, nd, 0),
    dil = list(o.dilation, nd, 1);
  // each window must fit the padded input: libtorch's 1-d pool gives an empty or wrong result
  // for a larger one, and spins without end for a huge one (k = 2^62)
  if (x.ndim >= nd + 1)
    for (let i = 0; i < nd; i++) {
      const span = (k[i] - 1) * dil[i] + 1,
        size = x.dims[x.ndim - nd + i] + 2 * pad[i];
      if (!(k[i] >= 1) || !(dil[i] >= 1) || span > size)
        throw new ShapeError(
          `maxPool${nd}d: kernel ${k[i]} (dilation ${dil[i]}) spans ${span} values, more than the ${size} of input dim ${x.ndim - nd + i} (with padding ${pad[i]})`,
        );
    }
  return wrap(
    native.call(
      op,
      h(x),
      k,
      o.stride === undefined ? k : list(o.stride, nd, 1),
      pad,
      dil,
      !!o.ceilMode,
    ),
  );
}
export const maxPool1d = (x: Tensor, kernel: IntOrList, o: PoolOptions = {}): Tensor =>
  maxPool(1, x, kernel, o);
export const maxPool2d = (x: Tensor, kernel: IntOrList, o: PoolOptions = {}): Tensor =>
  maxPool(2, x, kernel, o);
export const maxPool3d = (x: Tensor, kernel: IntOrList, o: PoolOptions = {}): Tensor =>
  maxPool(3, x, kernel, o);
export function avgPool2d(
  x: Tensor,
  kernel: IntOrList,
  o: Omit<PoolOptions, 'dilation'> & { countIncludePad?: boolean } = {},
): Tensor {
  const k = list(kernel, 2, 1);
  return wrap(
    native.call(
      OP.avgPool2d,
      h(x),
      k,
      o.stride === undefined ? k : list(o.stride, 2, 1),
      list(o.padding, 2, 0),
      !!o.ceilMode,
      o.countIncludePad ?? true,
      null,
    ),
  );
}
export function avgPool3d(
  x: Tensor,
  kernel: IntOrList,
  o: Omit<PoolOptions, 'dilation'> & { countIncludePad?: boolean } = {},
): Tensor {
  const k = list(kernel, 3, 1);
  return wrap(
    native.call(
      OP.avgPool3d,
      h(x),
      k,
      o.stride === undefined ? k : list(o.stride, 3, 1),
      list(o.padding, 3, 0),
      !!o.ceilMode,
      o.countIncludePad ?? true,
      null,
    ),
  );
}

export interface NllOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
}
/** Negative log-likelihood of log-probabilities (N, C[, ...]) at int64 targets (N[, ...]). */
export function nllLoss(logp: Tensor, target: Tensor, o: NllOptions = {}): Tensor {
  return wrap(
    native.call(
      OP.nllLoss,
      h(logp),
      h(target),
      hOpt(o.weight),
      reduction(o.reduction),
      o.ignoreIndex ?? -100,
    ),
  );
}
/** Cross entropy of logits; targets are class indices (int64) or probabilities (float, same shape). */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  o: NllOptions & { labelSmoothing?: number } = {},
): Tensor {
  const ls = o.labelSmoothing ?? 0;
  if (ls < 0 || ls > 1)
    throw new ArgumentError(`crossEntropy: labelSmoothing must be in [0, 1], got ${ls}`);
  return wrap(
    native.call(
      OP.crossEntropy,
      h(logits),
      h(target),
      hOpt(o.weight),
      reduction(o.reduction),
      o.ignoreIndex ?? -100,
      ls,
    ),
  );
}
export const mseLoss = (a: Tensor, b: Tensor, r: Reduction = 'mean'): Tensor =>
  wrap(native.call(OP.mseLoss, h(a), h(b), reduction(r)));
export const l1Loss = (a: Tensor, b: Tensor, r: Reduction = 'mean'): Tensor =>
  wrap(native.call(OP.l1Loss, h(a), h(b), reduction(r)));
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  target: Tensor,
  o: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  return wrap(
    native.call(
      OP.bceWithLogits,
      h(logits),
      h(target),
      hOpt(o.weight),
      hOpt(o.posWeight),
      reduction(o.reduction),
    ),
  );
}
/** KL divergence with log-prob input; target probabilities (or log-probs with logTarget). */
export function klDiv(
  input: Tensor,
  target: Tensor,
  r: Reduction | 'batchmean' = 'mean',
  logTarget = false,
): Tensor {
  if (r === 'batchmean') {
    const s = wrap(native.call(OP.klDiv, h(input), h(target), REDUCTION.sum, logTarget));
    const out = s.div(input.dims[0]);
    s.dispose();
    return out;
  }
  return wrap(native.call(OP.klDiv, h(input), h(target), reduction(r), logTarget));
}

/** Pads the last dims: pad = [left, right, top, bottom, front, back] like F.pad. */
export function pad(
  x: Tensor,
  p: number[],
  mode: 'constant' | 'reflect' | 'replicate' = 'constant',
  value = 0,
): Tensor {
  if (p.length % 2 !== 0 || p.length / 2 > x.ndim)
    throw new ShapeError(
      `pad: ${p.length} values for a ${x.ndim}-d tensor (need pairs, at most 2 per dim)`,
    );
  if (mode === 'constant') return wrap(native.call(OP.constantPad, h(x), p, value));
  if (mode !== 'reflect' && mode !== 'replicate')
    throw new ArgumentError(
      `pad: mode must be 'constant', 'reflect' or 'replicate', got ${JSON.stringify(mode)}`,
    );
  const nd = p.length / 2;
  // reflect/replicate over n dims take an (n+1)-d (unbatched) or (n+2)-d (batched) input
  if (x.ndim !== nd + 1 && x.ndim !== nd + 2)
    throw new ShapeError(
      `pad: mode '${mode}' over ${nd} dim(s) needs a ${nd + 1}-d or ${nd + 2}-d input, got [${x.dims.join(', ')}]`,
    );
  const ops =
    mode === 'reflect'
      ? [OP.reflectionPad1d, OP.reflectionPad2d, OP.reflectionPad3d]
      : [OP.replicationPad1d, OP.replicationPad2d, OP.replicationPad3d];
  if (nd < 1 || nd > 3) throw new ShapeError(`pad: mode '${mode}' pads 1 to 3 trailing dims`);
  return wrap(native.call(ops[nd - 1], h(x), p));
}
/** One-hot int64 encoding (numClasses = -1 infers it). */
export const oneHot = (idx: Tensor, numClasses = -1): Tensor =>
  wrap(native.call(OP.oneHot, h(idx), numClasses));
export const embedding = (idx: Tensor, weight: Tensor, paddingIdx = -1): Tensor =>
  wrap(native.call(OP.embedding, h(weight), h(idx), paddingIdx, false, false));

/**
 * softmax(q k^T / sqrt(d) + mask) v over the last two dims; q (..., L, d), k (..., S, d),
 * v (..., S, dv). mask: additive float or boolean (true = keep) broadcastable to (..., L, S).
 * Uses the fused kernel on libtorch >= 2.0, else the explicit matmul chain.
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { mask?: Tensor | null; dropout?: number; causal?: boolean; useFused?: boolean } = {},
): Tensor {
  if (hasOp('sdpa') && o.useFused !== false) {
    return wrap(native.call(OP.sdpa, h(q), h(k), h(v), hOpt(o.mask), o.dropout ?? 0, !!o.causal));
  }
  return tidy(() => {
    const d = q.dims[q.ndim - 1];
    const L = q.dims[q.ndim - 2],
      S = k.dims[k.ndim - 2];
    let s = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(d));
    if (o.causal)
      s = s.maskedFill(
        wrap(native.call(OP.ones, [L, S], 11, null, null, null))
          .tril()
          .logicalNot(),
        -Infinity,
      );
    if (o.mask)
      s = o.mask.dtype === 'bool' ? s.maskedFill(o.mask.logicalNot(), -Infinity) : s.add(o.mask);
    let p = s.softmax(-1);
    if (o.dropout) p = dropout(p, o.dropout, true);
    return p.matmul(v);
  });
}
