// Activations as modules (parameter-free except PReLU) and Identity.
import { F, full, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
/** GLU: first half ⊙ sigmoid(second half) along `dim`. */
export class GLU extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.glu(x, this.dim);
  }
}
/** PReLU with `slopes` learnable slopes (1 = shared), initialised to `init` (PyTorch: 0.25). */
export class PReLU extends Module {
  constructor(
    readonly slopes = 1,
    init = 0.25,
  ) {
    super();
    this.registerParameter('weight', full([slopes], init));
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  forward(x: Tensor): Tensor {
    return F.prelu(x, this.weight);
  }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
