// The model side of data-parallel training: which tensors make a replica (parameters, buffers,
// EMA), and a silent stream for the ranks that draw no bars. (train.sync_bn: src/nn's setSyncBatchNorm.)
import { Writable } from 'node:stream';
import type { Tensor } from '../engine/index.js';
import type { Module } from '../nn/index.js';
import type { Ema } from './ema.js';

/** Parameters, buffers and EMA shadow: what rank 0 broadcasts so every replica starts equal. */
export function replicaTensors(net: Module, ema: Ema | null): Tensor[] {
  return [...net.stateDict().values(), ...(ema ? [...ema.shadow.values()] : [])];
}

/** Progress output of ranks other than 0. */
export function sinkStream(): NodeJS.WriteStream {
  return new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
}
