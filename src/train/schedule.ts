// Learning-rate schedule: linear warmup, then half-cosine decay to min_lr, per optimizer step.
// Continuous at the junction (docs/design.md defect 3: the reference restarted the cosine at 1.94× lr).
export interface ScheduleSpec {
  /** peak learning rate */
  lr: number;
  /** total optimizer steps of the run */
  totalSteps: number;
  /** warmup length in steps */
  warmupSteps: number;
  /** cosine floor */
  minLr?: number;
  /** warmup starts at this fraction of lr (0: from ~0) */
  warmupStart?: number;
}

/** lr used for optimizer step `step` (0-based). */
export function lrAt(spec: ScheduleSpec, step: number): number {
  const { lr, totalSteps } = spec;
  const minLr = spec.minLr ?? 0;
  const W = Math.max(0, Math.min(Math.round(spec.warmupSteps), totalSteps));
  const ws = spec.warmupStart ?? 0;
  if (step < W) return lr * (ws + (1 - ws) * ((step + 1) / W));
  const span = Math.max(1, totalSteps - W);
  const t = Math.min(1, (step - W) / span);
  return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** Stateless apart from the step counter, which checkpoints save and restore. */
export class WarmupCosine {
  step = 0;
  constructor(readonly spec: ScheduleSpec) {}
  /** lr for the current step */
  get lr(): number {
    return lrAt(this.spec, this.step);
  }
  advance(): void {
    this.step++;
  }
  stateDict(): { step: number; spec: ScheduleSpec } {
    return { step: this.step, spec: { ...this.spec } };
  }
  loadStateDict(s: { step: number }): void {
    this.step = s.step;
  }
}
