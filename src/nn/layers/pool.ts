// Adaptive average pooling (1d/2d/3d) and MaxPool3d.
import { F, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';

export class AdaptiveAvgPool1d extends Module {
  constructor(readonly size = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool1d(x, this.size);
  }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly size: number | number[] = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.size);
  }
}
export class AdaptiveAvgPool3d extends Module {
  constructor(readonly size: number | number[] = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool3d(x, this.size);
  }
}
export class MaxPool3d extends Module {
  constructor(
    readonly kernel: number | number[],
    readonly opts: { stride?: number | number[]; padding?: number | number[] } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool3d(x, this.kernel, this.opts);
  }
}
