// Temporal convolutional back-end (docs/design.md "The model" 4): level L has kernel k, dilation
// and padding 2^L·(k-1)/2 (same length). conv_block = Conv1d BN PReLU Dropout Conv1d BN PReLU
// Dropout PReLU (children 0..8); residual = 1×1 Conv1d when channels change; out = residual + block.
import type { Tensor } from '../engine/index.js';
import { Module, Sequential, Conv1d, BatchNorm1d, PReLU, Dropout, Identity } from '../nn/index.js';
import type { ModelConfig } from './config.js';

export class TcnLayer extends Module {
  readonly convBlock: Sequential;
  readonly residual: Module;
  constructor(c: ModelConfig, cin: number, dilation: number) {
    super();
    const { width: w, kernel: k, dropout } = c.tcn;
    const pad = (dilation * (k - 1)) / 2;
    const bn = () => new BatchNorm1d(w, { eps: c.bnEps, momentum: c.bnMomentum });
    this.convBlock = this.registerModule(
      'conv_block',
      new Sequential(
        new Conv1d(cin, w, k, { padding: pad, dilation }),
        bn(),
        new PReLU(),
        new Dropout(dropout),
        new Conv1d(w, w, k, { padding: pad, dilation }),
        bn(),
        new PReLU(),
        new Dropout(dropout),
        new PReLU(),
      ),
    );
    this.residual = this.registerModule(
      'residual',
      cin !== w ? new Conv1d(cin, w, 1) : new Identity(),
    );
  }
  /** (B, C, T) → (B, width, T) */
  forward(x: Tensor): Tensor {
    return this.residual.forward(x).add(this.convBlock.forward(x));
  }
}

export class Tcn extends Module {
  readonly layers: Sequential;
  constructor(c: ModelConfig) {
    super();
    this.layers = this.registerModule(
      'tcn_layers',
      new Sequential(
        ...Array.from(
          { length: c.tcn.layers },
          (_, i) => new TcnLayer(c, i === 0 ? c.featureDim : c.tcn.width, 2 ** i),
        ),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return this.layers.forward(x);
  }
}
