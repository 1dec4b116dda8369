// Multi-head attention with PyTorch's parameter layout: in_proj_weight (3d, d) = [Wq; Wk; Wv],
// in_proj_bias (3d), out_proj (Linear d→d). Inputs are batch-first (B, L, d): attention runs
// over L within each sequence (docs/design.md defect 1 fixed).
import { F, empty, ones, zeros, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import { xavierUniform_, constant_ } from '../init.js';

export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly outProj: Linear;
  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    public dropout = 0,
  ) {
    super();
    if (embedDim % numHeads)
      throw new Error(`MultiheadAttention: heads (${numHeads}) must divide embedDim (${embedDim})`);
    this.headDim = embedDim / numHeads;
    this.registerParameter('in_proj_weight', xavierUniform_(empty([3 * embedDim, embedDim])));
    this.registerParameter('in_proj_bias', zeros([3 * embedDim]));
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim));
    const ob = this.outProj.bias;
    if (ob) constant_(ob, 0);
  }

  /**
   * Self-attention when key/value are omitted. q (B, L, d), k/v (B, S, d) → (B, L, d).
   * Masks follow torch.nn.MultiheadAttention: attnMask (L, S) or (B·heads, L, S), boolean
   * (true = may NOT attend) or additive float; keyPaddingMask (B, S), true = padding.
   */
  forward(
    q: Tensor,
    k?: Tensor,
    v?: Tensor,
    opts: { attnMask?: Tensor | null; keyPaddingMask?: Tensor | null } = {},
  ): Tensor {
    const [B, L, d] = q.shape;
    if (q.ndim !== 3 || d !== this.embedDim)
      throw new Error(
        `MultiheadAttention: expected (B, L, ${this.embedDim}), got [${q.shape.join(', ')}]`,
      );
    const w = this.param('in_proj_weight'),
      b = this.param('in_proj_bias');
    let qp: Tensor, kp: Tensor, vp: Tensor;
    if (!k && !v) {
      [qp, kp, vp] = F.linear(q, w, b).chunk(3, -1);
    } else {
      const [wq, wk, wv] = w.chunk(3, 0);
      const [bq, bk, bv] = b.chunk(3, 0);
      qp = F.linear(q, wq, bq);
      kp = F.linear(k ?? q, wk, bk);
      vp = F.linear(v ?? k ?? q, wv, bv);
    }
    const S = kp.shape[1],
      H = this.numHeads,
      hd = this.headDim;
    const heads = (t: Tensor, n: number) => t.reshape([B, n, H, hd]).transpose(1, 2); // (B, H, n, hd)
    const qh = heads(qp, L).mul(1 / Math.sqrt(hd)),
      kh = heads(kp, S),
      vh = heads(vp, S);
    let scores = qh.matmul(kh.transpose(-2, -1)); // (B, H, L, S)
    const apply = (m: Tensor) =>
      m.dtype === 'bool' ? scores.maskedFill(m, -Infinity) : scores.add(m);
    if (opts.attnMask) {
      const m = opts.attnMask;
      scores = apply(m.ndim === 3 ? m.reshape([B, H, L, S]) : m);
    }
    if (opts.keyPaddingMask) scores = apply(opts.keyPaddingMask.reshape([B, 1, 1, S]));
    let attn = scores.softmax(-1);
    if (this.training && this.dropout > 0) attn = F.dropout(attn, this.dropout, true);
    const ctx = attn.matmul(vh).transpose(1, 2).reshape([B, L, d]);
    return this.outProj.forward(ctx);
  }
  /**
   * Attention in which every position attends only to itself (the 'self' regime): the softmax
   * over one key is 1, so the output is out_proj(v_proj(x)) per position — what PyTorch's
   * sequence-first layer computes when fed (1, T, d) batch-first. x (B, L, d) → (B, L, d).
   * In training, attention dropout drops (and rescales) that single weight per head.
   */
  forwardSelfOnly(x: Tensor): Tensor {
    const [B, L, d] = x.shape;
    if (x.ndim !== 3 || d !== this.embedDim)
      throw new Error(
        `MultiheadAttention: expected (B, L, ${this.embedDim}), got [${x.shape.join(', ')}]`,
      );
    const [, , wv] = this.param('in_proj_weight').chunk(3, 0);
    const [, , bv] = this.param('in_proj_bias').chunk(3, 0);
    let v = F.linear(x, wv, bv);
    if (this.training && this.dropout > 0) {
      const keep = F.dropout(
        ones([B, L, this.numHeads, 1], { dtype: x.dtype, device: x.device }),
        this.dropout,
        true,
      );
      v = v.reshape([B, L, this.numHeads, this.headDim]).mul(keep).reshape([B, L, d]);
    }
    return this.outProj.forward(v);
  }
  protected override extraRepr(): string {
    return `${this.embedDim}, heads=${this.numHeads}`;
  }
}
