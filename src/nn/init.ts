// PyTorch's default initialisations (torch.nn.init), drawn from libtorch's RNG (seed with
// manualSeed). All functions fill a tensor in place, outside autograd.
import { noGrad, type Tensor } from '../engine/index.js';

/** fan_in / fan_out of a weight (out, in, ...kernel), as torch.nn.init._calculate_fan_in_and_fan_out. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`fans: weight needs >= 2 dims, got [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export function uniform_(t: Tensor, low: number, high: number): Tensor {
  noGrad(() => t.uniform_(low, high));
  return t;
}

export function constant_(t: Tensor, v: number): Tensor {
  noGrad(() => t.fill_(v));
  return t;
}

/** kaiming_uniform_(a): bound = gain·sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)). */
export function kaimingUniform_(t: Tensor, a = Math.sqrt(5)): Tensor {
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fans(t.shape).fanIn);
  return uniform_(t, -bound, bound);
}

/** xavier_uniform_: bound = gain·sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t.shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}

/** Conv / Linear defaults: weight kaiming_uniform_(a=√5) (= U(±1/√fan_in)), bias U(±1/√fan_in). */
export function defaultWeightAndBias_(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight);
  if (bias) {
    const b = 1 / Math.sqrt(fans(weight.shape).fanIn);
    uniform_(bias, -b, b);
  }
}
