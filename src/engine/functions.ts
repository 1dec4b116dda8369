// torch.* free functions that combine several tensors (cat, stack, where, einsum, ...).
import { native } from './native.js';
import { OP } from './ops.js';
import { Tensor, wrap, handleOf as h, type Scalar } from './tensor.js';
import { tidy } from './scope.js';
import { noGrad } from './autograd.js';
import { ArgumentError } from './errors.js';

function handles(ts: readonly Tensor[], what: string): number[] {
  if (!Array.isArray(ts) || ts.length === 0)
    throw new ArgumentError(`${what}: expected a non-empty array of tensors`);
  return ts.map(h);
}

export function cat(ts: readonly Tensor[], dim = 0): Tensor {
  return wrap(native.call(OP.cat, handles(ts, 'cat'), dim));
}
export function stack(ts: readonly Tensor[], dim = 0): Tensor {
  return wrap(native.call(OP.stack, handles(ts, 'stack'), dim));
}
/** Elements of a where cond is true, else of b (tensors or scalars, broadcasting). */
export function where(cond: Tensor, a: Tensor | Scalar, b: Tensor | Scalar): Tensor {
  const ta = typeof a === 'object',
    tb = typeof b === 'object';
  if (ta && tb) return wrap(native.call(OP.where, h(cond), h(a as Tensor), h(b as Tensor)));
  if (ta) return wrap(native.call(OP.whereSO, h(cond), h(a as Tensor), b));
  if (tb) return wrap(native.call(OP.whereSS, h(cond), a, h(b as Tensor)));
  return wrap(native.call(OP.whereScalar, h(cond), a, b));
}
export function einsum(equation: string, ...ts: Tensor[]): Tensor {
  return wrap(native.call(OP.einsum, equation, handles(ts, 'einsum')));
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
export function bmm(a: Tensor, b: Tensor): Tensor {
  return a.bmm(b);
}
/** beta * input + alpha * (b1 @ b2), batched. */
export function baddbmm(input: Tensor, b1: Tensor, b2: Tensor, beta = 1, alpha = 1): Tensor {
  return wrap(native.call(OP.baddbmm, h(input), h(b1), h(b2), beta, alpha));
}
export function maximum(a: Tensor, b: Tensor): Tensor {
  return a.maximum(b);
}
export function minimum(a: Tensor, b: Tensor): Tensor {
  return a.minimum(b);
}

// ---- multi-tensor in-place updates (optimizers): one dispatcher call for many tensors ----
/** xs[i] *= s */
export function foreachMul_(xs: Tensor[], s: number): void {
  if (OP.foreachMulS_ >= 0) native.callVoid(OP.foreachMulS_, xs.map(h), s);
  else for (const x of xs) x.mul_(s);
}
/** xs[i] += alpha * ys[i] */
export function foreachAdd_(xs: Tensor[], ys: Tensor[], alpha = 1): void {
  if (OP.foreachAddList_ >= 0) native.callVoid(OP.foreachAddList_, xs.map(h), ys.map(h), alpha);
  else xs.forEach((x, i) => x.add_(ys[i], alpha));
}
/** xs[i] += value * a[i] * b[i] */
export function foreachAddcmul_(xs: Tensor[], a: Tensor[], b: Tensor[], value = 1): void {
  if (OP.foreachAddcmulS_ >= 0)
    native.callVoid(OP.foreachAddcmulS_, xs.map(h), a.map(h), b.map(h), value);
  else xs.forEach((x, i) => x.addcmul_(a[i], b[i], value));
}
/** xs[i] += value * a[i] / b[i] */
export function foreachAddcdiv_(xs: Tensor[], a: Tensor[], b: Tensor[], value = 1): void {
  if (OP.foreachAddcdivS_ >= 0)
    native.callVoid(OP.foreachAddcdivS_, xs.map(h), a.map(h), b.map(h), value);
  else xs.forEach((x, i) => x.addcdiv_(a[i], b[i], value));
}
/** xs[i] += w * (ends[i] - xs[i]) */
export function foreachLerp_(xs: Tensor[], ends: Tensor[], w: number): void {
  if (OP.foreachLerpS_ >= 0) native.callVoid(OP.foreachLerpS_, xs.map(h), ends.map(h), w);
  else xs.forEach((x, i) => x.lerp_(ends[i], w));
}
export function foreachZero_(xs: Tensor[]): void {
  if (OP.foreachZero_ >= 0) native.callVoid(OP.foreachZero_, xs.map(h));
  else for (const x of xs) x.zero_();
}
export function foreachSqrt(xs: Tensor[]): Tensor[] {
  if (OP.foreachSqrt >= 0) return (native.call(OP.foreachSqrt, xs.map(h)) as number[]).map(wrap);
  return xs.map((x) => x.sqrt());
}

/** The scalars of one AdamW step (torch.optim.AdamW's single-tensor update, see foreachAdamW_). */
export interface AdamWStepScalars {
  /** 1 − lr·weight_decay, applied where `decays[i]` */
  decayFactor: number;
  /** 1 − β1 (the lerp weight of the first moment) */
  w1: number;
  beta2: number;
  /** 1 − β2 */
  w2: number;
  /** √(1 − β2^t) */
  bc2Sqrt: number;
  eps: number;
  /** −lr / (1 − β1^t) */
  negStepSize: number;
}

/**
 * One AdamW update of many parameters in place, with their gradients and moments:
 *   p ← p·decayFactor (where decays[i]);  m ← lerp(m, g, w1);  v ← v·β2 + w2·g²;
 *   p ← p + negStepSize · m / (√v / bc2Sqrt + eps)
 * One call into the addon for all of them: float32 CPU parameters take one fused pass over
 * memory split over the intra-op threads (native/foreach.cc), others the same ATen ops; an
 * addon built before that file takes the ops from here. Returns the fused parameters' count.
 */
export function foreachAdamW_(
  params: Tensor[],
  grads: Tensor[],
  expAvgs: Tensor[],
  expAvgSqs: Tensor[],
  decays: boolean[],
  s: AdamWStepScalars,
): number {
  const n = params.length;
  if (grads.length !== n || expAvgs.length !== n || expAvgSqs.length !== n || decays.length !== n)
    throw new ArgumentError(
      'foreachAdamW_: params, grads, moments and decays must have the same length',
    );
  if (n === 0) return 0;
  if (native.adamwStep)
    return native.adamwStep(
      params.map(h),
      grads.map(h),
      expAvgs.map(h),
      expAvgSqs.map(h),
      decays,
      s.decayFactor,
      s.w1,
      s.beta2,
      s.w2,
      s.bc2Sqrt,
      s.eps,
      s.negStepSize,
    );
  noGrad(() => {
    for (let i = 0; i < n; i++) {
      tidy(() => {
        const [p, g, m, v] = [params[i], grads[i], expAvgs[i], expAvgSqs[i]];
        if (decays[i]) p.mul_(s.decayFactor);
        m.lerp_(g, s.w1);
        v.mul_(s.beta2).addcmul_(g, g, s.w2);
        p.addcdiv_(m, v.sqrt().div_(s.bc2Sqrt).add_(s.eps), s.negStepSize);
      });
    }
  });
  return 0;
}

/**
 * torch.nn.utils.clip_grad_norm_: scales the gradients of `params` in place so that their
 * joint L2 norm is at most maxNorm; returns the norm before clipping. One host sync.
 */
export function clipGradNorm_(params: Tensor[], maxNorm: number): number {
  return tidy(() =>
    noGrad(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const norms =
        OP.foreachNorm >= 0
          ? (native.call(OP.foreachNorm, grads.map(h), 2) as number[]).map(wrap)
          : grads.map((g) => g.norm(2));
      const total = stack(norms).norm(2).item();
      if (total > maxNorm) foreachMul_(grads, maxNorm / (total + 1e-6));
      return total;
    }),
  );
}
