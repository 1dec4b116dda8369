// eflip's tensor engine: a typed TypeScript API over libtorch. See docs/engine.md.
export {
  Tensor,
  type Scalar,
  type Shape,
  type MemoryFormat,
  type ReduceOptions,
  type VarOptions,
  type ValuesIndices,
} from './tensor.js';
export * from './creation.js';
export * from './functions.js';
export * as F from './functional.js';
export { tidy, keep, liveTensors, scopeDepth } from './scope.js';
export {
  noGrad,
  enableGrad,
  inferenceMode,
  isGradEnabled,
  setGradEnabled,
  backward,
} from './autograd.js';
export { autocast, isAutocastEnabled, type AutocastOptions } from './autocast.js';
export {
  torchVersion,
  torchConfig,
  cpuCapability,
  cpuNativeBf16,
  cpuInt8Dot,
  addonPath,
  setNumThreads,
  getNumThreads,
  getNumInteropThreads,
  manualSeed,
  cuda,
} from './runtime.js';
export { type DType, DTYPE_SIZE, isFloating } from './dtype.js';
export { type Device, checkDevice, torchBuiltWithCuda, CUDA_BUILD_FIX } from './device.js';
export { hasOp, type OpName } from './ops.js';
export * from './errors.js';
export {
  ProcessGroup,
  Store,
  Work,
  GradSync,
  syncBatchNorm,
  DistributedError,
  RendezvousError,
  type Backend,
  type ReduceOpName,
  type ProcessGroupOptions,
  type GradSyncOptions,
  type SyncBatchNormOptions,
} from './distributed.js';
