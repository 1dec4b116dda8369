// Exponential moving average of the weights AND buffers (BN running statistics) of a model.
// Validation, test, export and prediction use the EMA copy. The effective decay warms up as
// min(decay, (1 + n) / (10 + n)) so short runs are not dominated by the random init.
import { Tensor, keep, noGrad, tidy, foreachLerp_, isFloating } from '../engine/index.js';

export class Ema {
  updates = 0;
  readonly shadow = new Map<string, Tensor>();

  /** `state`: name → live tensor of the model (parameters and buffers). */
  constructor(
    state: Map<string, Tensor>,
    readonly decay: number,
  ) {
    noGrad(() =>
      tidy(() => {
        for (const [k, t] of state) this.shadow.set(k, keep(t.detach().clone()));
      }),
    );
  }

  effectiveDecay(): number {
    return Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
  }

  /** One EMA step: every floating shadow lerps towards the model in one multi-tensor call. */
  update(state: Map<string, Tensor>): void {
    const d = this.effectiveDecay();
    this.updates++;
    noGrad(() =>
      tidy(() => {
        const shadows: Tensor[] = [],
          srcs: Tensor[] = [];
        for (const [k, s] of this.shadow) {
          const t = state.get(k);
          if (!t) continue;
          const src = t.detach();
          if (isFloating(s.dtype)) {
            shadows.push(s);
            srcs.push(src);
          } else s.copy_(src); // integer buffers (num_batches_tracked) follow the model
        }
        if (shadows.length) foreachLerp_(shadows, srcs, 1 - d);
      }),
    );
  }

  /** Copy EMA values into the model's tensors; returns a restore function (raw weights back). */
  swapInto(state: Map<string, Tensor>): () => void {
    const backup = new Map<string, Tensor>();
    noGrad(() =>
      tidy(() => {
        for (const [k, s] of this.shadow) {
          const t = state.get(k);
          if (!t) continue;
          backup.set(k, keep(t.detach().clone()));
          t.copy_(s);
        }
      }),
    );
    return () =>
      noGrad(() => {
        for (const [k, b] of backup) {
          state.get(k)!.copy_(b);
          b.dispose();
        }
      });
  }

  load(get: (key: string) => Tensor | undefined, updates: number): string[] {
    const missing: string[] = [];
    noGrad(() =>
      tidy(() => {
        for (const [k, s] of this.shadow) {
          const src = get(k);
          if (!src || src.dims.join() !== s.dims.join()) {
            missing.push(k);
            continue;
          }
          s.copy_(src);
        }
      }),
    );
    this.updates = updates;
    return missing;
  }

  dispose(): void {
    for (const t of this.shadow.values()) t.dispose();
  }
}
