// Autograd controls: grad-mode scopes and multi-output backward.
import { native } from './native.js';
import { EngineError } from './errors.js';
import type { Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(enabled);
  try {
    const r = fn();
    if (r instanceof Promise)
      throw new EngineError('noGrad/enableGrad callbacks must be synchronous');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn without recording the autograd graph (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}
/** Runs fn with graph recording on, also inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
/**
 * Runs fn in libtorch's inference mode (torch.inference_mode): like noGrad but cheaper per
 * op. Tensors created inside are inference tensors: they can never take part in autograd
 * later (use noGrad for tensors that will), so use it for prediction paths only.
 */
export function inferenceMode<T>(fn: () => T): T {
  native.inferenceMode(true);
  try {
    const r = fn();
    if (r instanceof Promise) throw new EngineError('inferenceMode callbacks must be synchronous');
    return r;
  } finally {
    native.inferenceMode(false);
  }
}
export function isGradEnabled(): boolean {
  return native.gradEnabled();
}
/** Sets grad mode globally; returns the previous value. Prefer noGrad(fn). */
export function setGradEnabled(enabled: boolean): boolean {
  return native.setGradEnabled(enabled);
}
/** Back-propagates several outputs at once (torch.autograd.backward). */
export function backward(
  outputs: Tensor[],
  grads?: (Tensor | null)[],
  opts: { retainGraph?: boolean; createGraph?: boolean } = {},
): void {
  native.backward(
    outputs.map((t) => t.handle),
    grads ? grads.map((g) => (g ? g.handle : null)) : null,
    opts.retainGraph,
    !!opts.createGraph,
  );
}
