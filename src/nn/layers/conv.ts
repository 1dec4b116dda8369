// Conv1d/2d/3d with PyTorch's parameter layout (weight (out, in/groups, ...k), bias (out)).
import { F, empty, type Tensor } from '../../engine/index.js';
import { Module } from '../module.js';
import { defaultWeightAndBias_ } from '../init.js';

type Ints = number | number[];
export interface ConvOptions {
  stride?: Ints;
  padding?: Ints;
  dilation?: Ints;
  groups?: number;
  bias?: boolean;
}

const expand = (v: Ints | undefined, n: number, d: number): number[] =>
  v === undefined ? Array(n).fill(d) : typeof v === 'number' ? Array(n).fill(v) : [...v];

abstract class ConvNd extends Module {
  readonly kernel: number[];
  readonly stride: number[];
  readonly padding: number[];
  readonly dilation: number[];
  readonly groups: number;

  constructor(
    readonly nd: 1 | 2 | 3,
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: Ints,
    o: ConvOptions = {},
  ) {
    super();
    this.kernel = expand(kernel, nd, 1);
    this.stride = expand(o.stride, nd, 1);
    this.padding = expand(o.padding, nd, 0);
    this.dilation = expand(o.dilation, nd, 1);
    this.groups = o.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(
        `Conv${nd}d: channels ${inChannels}→${outChannels} not divisible by groups ${this.groups}`,
      );
    }
    const w = empty([outChannels, inChannels / this.groups, ...this.kernel]);
    const b = o.bias === false ? null : empty([outChannels]);
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
    const o = {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    };
    return this.nd === 1
      ? F.conv1d(x, this.weight, this.bias, o)
      : this.nd === 2
        ? F.conv2d(x, this.weight, this.bias, o)
        : F.conv3d(x, this.weight, this.bias, o);
  }
  protected override extraRepr(): string {
    return (
      `${this.inChannels}, ${this.outChannels}, k=${this.kernel.join('x')}, s=${this.stride.join('x')}, p=${this.padding.join('x')}` +
      `${this.dilation.some((d) => d !== 1) ? `, d=${this.dilation.join('x')}` : ''}${this.groups > 1 ? `, groups=${this.groups}` : ''}${this.bias ? '' : ', bias=False'}`
    );
  }
}

export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernel: Ints, o: ConvOptions = {}) {
    super(1, inChannels, outChannels, kernel, o);
  }
}
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernel: Ints, o: ConvOptions = {}) {
    super(2, inChannels, outChannels, kernel, o);
  }
}
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernel: Ints, o: ConvOptions = {}) {
    super(3, inChannels, outChannels, kernel, o);
  }
}
