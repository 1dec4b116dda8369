// Dynamic loss scaling for float16 mixed precision, with torch.cuda.amp.GradScaler's semantics:
// the loss is multiplied by `scale` before backward so small float16 gradients do not flush
// to zero; the gradients are divided by it again before clipping and the optimizer step; a
// step whose gradients hold an inf/NaN is skipped and the scale halves (backoff); after
// `growthInterval` good steps in a row the scale doubles (growth). The state (scale, good-step
// count) travels in checkpoints. Device-independent: the same code on CPU and CUDA tensors.
import { foreachMul_, noGrad, stack, tidy, type Tensor } from '../engine/index.js';

export interface GradScalerOptions {
  /** first scale (PyTorch: 2^16) */
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  /** good steps in a row before the scale grows */
  growthInterval?: number;
}

export interface GradScalerState {
  scale: number;
  growthTracker: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
}

export class GradScaler {
  scale: number;
  /** good (finite) steps since the last change of the scale */
  growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** optimizer steps skipped because of inf/NaN gradients (this process) */
  skipped = 0;

  constructor(o: GradScalerOptions = {}) {
    this.scale = o.initScale ?? 2 ** 16;
    this.growthFactor = o.growthFactor ?? 2;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
    if (!(this.scale > 0) || !Number.isFinite(this.scale))
      throw new Error(`GradScaler: initScale must be a positive finite number, got ${this.scale}`);
    if (!(this.growthFactor > 1))
      throw new Error(`GradScaler: growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1))
      throw new Error(`GradScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1)
      throw new Error(
        `GradScaler: growthInterval must be a positive integer, got ${this.growthInterval}`,
      );
  }

  /** loss × scale (backpropagate this one). */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.scale);
  }

  /**
   * Divides the gradients by the scale in place and reports whether all of them are finite
   * (one host sync for all tensors). Call once per step, after backward, before clipping.
   */
  unscale(grads: Tensor[]): boolean {
    if (grads.length === 0) return true;
    return tidy(() =>
      noGrad(() => {
        foreachMul_(grads, 1 / this.scale);
        return Boolean(
          stack(grads.map((g) => g.isfinite().all()))
            .all()
            .item(),
        );
      }),
    );
  }

  /** After each step: back off on overflow (the step was skipped), grow after growthInterval good steps. */
  update(finite: boolean): void {
    if (!finite) {
      this.scale *= this.backoffFactor;
      this.growthTracker = 0;
      this.skipped++;
      return;
    }
    this.growthTracker++;
    if (this.growthTracker >= this.growthInterval) {
      const grown = this.scale * this.growthFactor;
      if (Number.isFinite(Math.fround(grown))) this.scale = grown; // like PyTorch's float32 scale: never grow into inf
      this.growthTracker = 0;
    }
  }

  stateDict(): GradScalerState {
    return {
      scale: this.scale,
      growthTracker: this.growthTracker,
      growthFactor: this.growthFactor,
      backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval,
    };
  }

  /** Restores scale and good-step count (the factors stay those of the current config). */
  loadStateDict(s: Partial<GradScalerState>): void {
    if (typeof s.scale !== 'number' || !(s.scale > 0) || !Number.isFinite(s.scale))
      throw new Error(
        `checkpoint gradient scaler state has an invalid scale ${JSON.stringify(s.scale)}`,
      );
    this.scale = s.scale;
    this.growthTracker =
      Number.isInteger(s.growthTracker) && (s.growthTracker as number) >= 0
        ? (s.growthTracker as number)
        : 0;
  }
}
