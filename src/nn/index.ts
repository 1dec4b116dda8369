// eflip nn: PyTorch-style modules over the engine (src/engine).
export { Module, StateDictError, type LoadReport, type StateValue } from './module.js';
export * as init from './init.js';
export { Conv1d, Conv2d, Conv3d, type ConvOptions } from './layers/conv.js';
export { Linear } from './layers/linear.js';
export {
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BatchNormNd,
  LayerNorm,
  setSyncBatchNorm,
  type BatchNormOptions,
} from './layers/norm.js';
export { ReLU, SiLU, Sigmoid, GLU, PReLU, Identity } from './layers/activation.js';
export { Dropout, DropPath } from './layers/dropout.js';
export { Sequential, ModuleList } from './layers/container.js';
export {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveAvgPool3d,
  MaxPool3d,
} from './layers/pool.js';
export { MultiheadAttention } from './layers/attention.js';
export { TransformerEncoderLayer } from './layers/transformer.js';
