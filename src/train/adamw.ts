// AdamW (Loshchilov & Hutter): decoupled weight decay, bias-corrected moments; the update is
// PyTorch's torch.optim.AdamW step for step:
//   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
// Optionally no decay on norms, biases and PReLU slopes (every tensor with ≤ 1 dimension).
import { ArgumentError, Tensor, keep, noGrad, tidy, foreachAdamW_ } from '../engine/index.js';

export interface AdamWOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** skip weight decay for parameters with ≤ 1 dims (norm weights, biases, PReLU) */
  noDecayNormBias: boolean;
}

export interface NamedParam {
  name: string;
  param: Tensor;
}

export class AdamW {
  /** optimizer steps taken (the t of the bias correction) */
  stepCount = 0;
  readonly noDecay: Set<string>;
  private readonly expAvg = new Map<string, Tensor>();
  private readonly expAvgSq = new Map<string, Tensor>();

  constructor(
    readonly params: NamedParam[],
    readonly opts: AdamWOptions,
  ) {
    // torch.optim.AdamW's checks: a NaN or out-of-range hyper-parameter turns every weight into
    // NaN at the first step; a parameter listed twice would be stepped twice
    const [b1, b2] = opts.betas ?? [];
    for (const [what, v, ok] of [
      ['betas[0]', b1, (x: number) => x >= 0 && x < 1],
      ['betas[1]', b2, (x: number) => x >= 0 && x < 1],
      ['eps', opts.eps, (x: number) => x >= 0],
      ['weightDecay', opts.weightDecay, (x: number) => x >= 0],
    ] as [string, number, (x: number) => boolean][])
      if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
        throw new ArgumentError(`AdamW: ${what} must be a finite number in range, got ${v}`);
    const seen = new Set<Tensor>(),
      names = new Set<string>();
    for (const { name, param } of params) {
      if (seen.has(param) || names.has(name))
        throw new ArgumentError(`AdamW: parameter '${name}' is listed twice`);
      seen.add(param);
      names.add(name);
    }
    this.noDecay = new Set(
      opts.noDecayNormBias ? params.filter((p) => p.param.ndim <= 1).map((p) => p.name) : [],
    );
    noGrad(() =>
      tidy(() => {
        for (const { name, param } of params) {
          this.expAvg.set(name, keep(param.detach().clone().zero_()));
          this.expAvgSq.set(name, keep(param.detach().clone().zero_()));
        }
      }),
    );
  }

  /**
   * One update with learning rate `lr` from the gradients in `.grad` (params without a grad are
   * skipped): all parameters in one multi-tensor call (engine foreachAdamW_; on the CPU one fused
   * pass over each parameter's memory), no host sync.
   */
  step(lr: number): void {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0)
      throw new ArgumentError(`AdamW.step: lr must be a finite number >= 0, got ${lr}`);
    this.stepCount++;
    const [b1, b2] = this.opts.betas;
    const wd = this.opts.weightDecay;
    tidy(() => this.update(lr, wd, b1, b2));
  }

  private update(lr: number, wd: number, b1: number, b2: number): void {
    const ps: Tensor[] = [],
      gs: Tensor[] = [],
      ms: Tensor[] = [],
      vs: Tensor[] = [],
      decays: boolean[] = [];
    for (const { name, param } of this.params) {
      const g = param.grad;
      if (!g) continue;
      ps.push(param);
      gs.push(g);
      ms.push(this.expAvg.get(name)!);
      vs.push(this.expAvgSq.get(name)!);
      decays.push(wd > 0 && !this.noDecay.has(name));
    }
    foreachAdamW_(ps, gs, ms, vs, decays, {
      decayFactor: 1 - lr * wd,
      w1: 1 - b1,
      beta2: b2,
      w2: 1 - b2,
      bc2Sqrt: Math.sqrt(1 - b2 ** this.stepCount),
      eps: this.opts.eps,
      negStepSize: -lr / (1 - b1 ** this.stepCount),
    });
  }

  zeroGrad(): void {
    for (const { param } of this.params) param.zeroGrad(true);
  }

  /** Moment tensors by name (`<param>.exp_avg`, `<param>.exp_avg_sq`), for checkpoints. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const { name } of this.params) {
      out.set(`${name}.exp_avg`, this.expAvg.get(name)!);
      out.set(`${name}.exp_avg_sq`, this.expAvgSq.get(name)!);
    }
    return out;
  }

  /** Copy moments from a checkpoint; missing entries (e.g. a re-initialised head) stay zero. */
  loadStateTensors(get: (key: string) => Tensor | undefined, stepCount: number): string[] {
    const missing: string[] = [];
    noGrad(() => {
      for (const { name } of this.params) {
        for (const [suffix, map] of [
          ['exp_avg', this.expAvg],
          ['exp_avg_sq', this.expAvgSq],
        ] as const) {
          const src = get(`${name}.${suffix}`);
          const dst = map.get(name)!;
          if (!src || src.dims.join() !== dst.dims.join()) {
            missing.push(`${name}.${suffix}`);
            continue;
          }
          dst.copy_(src);
        }
      }
    });
    this.stepCount = stepCount;
    return missing;
  }

  dispose(): void {
    for (const t of [...this.expAvg.values(), ...this.expAvgSq.values()]) t.dispose();
  }
}
