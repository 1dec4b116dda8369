// Dropout (element-wise, inverted scaling) and DropPath (stochastic depth: drops a whole
// residual branch per sample, Huang et al. 2016), both active only in training mode.
import { F, bernoulli, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';

export class Dropout extends Module {
  constructor(public p = 0.5) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training && this.p > 0);
  }
  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}

export class DropPath extends Module {
  constructor(public p = 0) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`DropPath: p must be in [0, 1), got ${p}`);
  }
  /** x (B, ...): each sample kept with probability 1-p and scaled by 1/(1-p). */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const keep = 1 - this.p;
    const shape = [x.shape[0], ...new Array(x.ndim - 1).fill(1)];
    const mask = bernoulli(keep, shape, { dtype: x.dtype, device: x.device });
    return x.mul(mask).div(keep);
  }
  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}
