// Post-norm Transformer encoder layer, torch.nn.TransformerEncoderLayer layout
// (self_attn, linear1, linear2, norm1, norm2), batch-first (B, L, d), ReLU feed-forward:
//   x = norm1(x + drop(attn(x)));  x = norm2(x + drop(linear2(drop(relu(linear1(x))))))
// `attention` 'self' makes attn(x) per position (each attends only to itself, see
// MultiheadAttention.forwardSelfOnly); 'time' (default) attends over L.
import { F, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import { LayerNorm } from './norm.js';
import { MultiheadAttention } from './attention.js';

export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  constructor(
    readonly dModel: number,
    nhead: number,
    dimFeedforward: number,
    public dropout = 0.1,
    eps = 1e-5,
    public attention: 'time' | 'self' = 'time',
  ) {
    super();
    this.selfAttn = this.registerModule(
      'self_attn',
      new MultiheadAttention(dModel, nhead, dropout),
    );
    this.linear1 = this.registerModule('linear1', new Linear(dModel, dimFeedforward));
    this.linear2 = this.registerModule('linear2', new Linear(dimFeedforward, dModel));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, eps));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, eps));
  }
  private drop(x: Tensor): Tensor {
    return this.training && this.dropout > 0 ? F.dropout(x, this.dropout, true) : x;
  }
  forward(x: Tensor): Tensor {
    const sa =
      this.attention === 'self' ? this.selfAttn.forwardSelfOnly(x) : this.selfAttn.forward(x);
    const a = this.norm1.forward(x.add(this.drop(sa)));
    const ff = this.linear2.forward(this.drop(this.linear1.forward(a).relu()));
    return this.norm2.forward(a.add(this.drop(ff)));
  }
}
