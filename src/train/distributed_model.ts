// The model side of data-parallel training: which tensors make a replica (parameters, buffers,
// EMA), SyncBatchNorm for train.sync_bn, and a silent stream for the ranks that draw no bars.
import { Writable } from 'node:stream';
import type { Tensor } from '../engine/index.js';
import type { Module } from '../nn/index.js';
import type { Ema } from './ema.js';
import type { DistributedRun } from './distributed_run.js';

/** Parameters, buffers and EMA shadow: what rank 0 broadcasts so every replica starts equal. */
export function replicaTensors(net: Module, ema: Ema | null): Tensor[] {
  return [...net.stateDict().values(), ...(ema ? [...ema.shadow.values()] : [])];
}

/** Batch norm over the global batch in every BatchNorm layer; returns how many were converted. */
export function syncBatchNorm(_net: Module, _dist: DistributedRun): number {
  throw new Error('train.sync_bn: SyncBatchNorm is not available in this build');
}

/** Progress output of ranks other than 0. */
export function sinkStream(): NodeJS.WriteStream {
  return new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
}
