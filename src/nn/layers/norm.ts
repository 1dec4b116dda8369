// BatchNorm1d/2d/3d (running statistics as buffers, momentum in PyTorch's convention) and LayerNorm.
import {
  F,
  ones,
  zeros,
  scalar,
  noGrad,
  syncBatchNorm,
  type Tensor,
  type ProcessGroup,
} from '../../engine/index.js';
import { Module } from '../module.js';

export interface BatchNormOptions {
  eps?: number;
  /** running = (1 - momentum)·running + momentum·batch (PyTorch convention; default 0.1) */
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

export abstract class BatchNormNd extends Module {
  readonly eps: number;
  momentum: number;
  /** When set (see setSyncBatchNorm), training-mode batch statistics span all its ranks. */
  syncGroup: ProcessGroup | null = null;
  constructor(
    readonly inputRank: number,
    readonly numFeatures: number,
    o: BatchNormOptions = {},
  ) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    if (o.affine !== false) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    if (o.trackRunningStats !== false) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', scalar(0, { dtype: 'int64' }));
    }
  }
  forward(x: Tensor): Tensor {
    const rank = x.ndim;
    if (rank !== this.inputRank && !(this.inputRank === 3 && rank === 2)) {
      throw new Error(
        `${this.constructor.name}: expected a ${this.inputRank}-d input, got [${x.shape.join(', ')}]`,
      );
    }
    const rm = this.bufferOrNull('running_mean');
    const rv = this.bufferOrNull('running_var');
    if (this.training && rm) {
      const n = this.buffer('num_batches_tracked');
      noGrad(() => n.add_(1));
    }
    const pg = this.syncGroup;
    if (this.training && pg && pg.worldSize > 1) {
      return syncBatchNorm(pg, x, rm, rv, this.paramOrNull('weight'), this.paramOrNull('bias'), {
        momentum: this.momentum,
        eps: this.eps,
      });
    }
    // training (or no running stats): batch statistics, running stats updated in place
    return F.batchNorm(x, rm, rv, this.paramOrNull('weight'), this.paramOrNull('bias'), {
      training: this.training || !rm,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}

/**
 * Makes every BatchNorm1d/2d/3d under root synchronize its training statistics over pg
 * (torch.nn.SyncBatchNorm.convert_sync_batchnorm), or stops it with null; returns how many
 * layers it changed. Evaluation mode always uses the running statistics.
 */
export function setSyncBatchNorm(root: Module, pg: ProcessGroup | null): number {
  let n = 0;
  for (const m of root.modules()) {
    if (m instanceof BatchNormNd) {
      m.syncGroup = pg;
      n++;
    }
  }
  return n;
}

export class BatchNorm1d extends BatchNormNd {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(3, numFeatures, o);
  }
}
export class BatchNorm2d extends BatchNormNd {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(4, numFeatures, o);
  }
}
export class BatchNorm3d extends BatchNormNd {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(5, numFeatures, o);
  }
}

export class LayerNorm extends Module {
  readonly shape: number[];
  constructor(
    shape: number | number[],
    readonly eps = 1e-5,
  ) {
    super();
    this.shape = typeof shape === 'number' ? [shape] : [...shape];
    this.registerParameter('weight', ones(this.shape));
    this.registerParameter('bias', zeros(this.shape));
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(
      x,
      this.shape,
      this.paramOrNull('weight'),
      this.paramOrNull('bias'),
      this.eps,
    );
  }
  protected override extraRepr(): string {
    return `[${this.shape.join(', ')}], eps=${this.eps}`;
  }
}
