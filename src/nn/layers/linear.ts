// Linear: y = x Wᵀ + b, weight (out, in).
import { F, empty, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';
import { defaultWeightAndBias_ } from '../init.js';

export class Linear extends Module {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    const w = empty([outFeatures, inFeatures]);
    const b = opts.bias === false ? null : empty([outFeatures]);
    defaultWeightAndBias_(w, b);
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  protected override extraRepr(): string {
    return `${this.inFeatures}, ${this.outFeatures}${this.bias ? '' : ', bias=False'}`;
  }
}
