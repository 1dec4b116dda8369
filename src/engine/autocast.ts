// Mixed precision: inside autocast(fn) eligible ops (conv, matmul, linear, ...) run in a
// lower precision while numerically sensitive ones stay in float32, exactly like
// torch.autocast. CPU supports bfloat16; CUDA float16 or bfloat16.
import { native } from './native.js';
import { dtypeCode, type DType } from './dtype.js';
import { EngineError, DeviceError } from './errors.js';

export interface AutocastOptions {
  /** 'cpu' (default) or 'cuda' */
  device?: 'cpu' | 'cuda';
  /** default: bfloat16 on CPU, float16 on CUDA */
  dtype?: DType;
  enabled?: boolean;
}

export function autocast<T>(fn: () => T, o: AutocastOptions = {}): T {
  const device = o.device ?? 'cpu';
  const dtype: DType = o.dtype ?? (device === 'cpu' ? 'bfloat16' : 'float16');
  if (device === 'cpu' && dtype !== 'bfloat16')
    throw new EngineError(`autocast on CPU supports bfloat16 only (got ${dtype})`);
  if (device === 'cuda' && dtype !== 'float16' && dtype !== 'bfloat16')
    throw new EngineError(`autocast on CUDA supports float16 or bfloat16 (got ${dtype})`);
  if (device === 'cuda' && !native.cudaAvailable())
    throw new DeviceError('autocast on cuda requested but CUDA is not available');
  const [prevEnabled, prevDtype] = native.autocastState(device);
  native.autocastSet(device, o.enabled ?? true, dtypeCode(dtype), +1);
  try {
    const r = fn();
    if (r instanceof Promise) throw new EngineError('autocast callbacks must be synchronous');
    return r;
  } finally {
    native.autocastSet(device, prevEnabled, prevDtype, -1);
  }
}

export function isAutocastEnabled(device: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.autocastState(device)[0];
}
