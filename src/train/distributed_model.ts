// The model side of data-parallel training: which tensors make a replica (parameters, buffers,
// EMA), SyncBatchNorm for train.sync_bn, and a silent stream for the ranks that draw no bars.
import { Writable } from 'node:stream';
import { noGrad, type Tensor } from '../engine/index.js';
import { syncBatchNorm as syncBatchNormOp } from '../engine/distributed.js';
import { BatchNorm1d, BatchNorm2d, BatchNorm3d, type Module } from '../nn/index.js';
import type { Ema } from './ema.js';
import type { DistributedRun } from './distributed_run.js';

/** Parameters, buffers and EMA shadow: what rank 0 broadcasts so every replica starts equal. */
export function replicaTensors(net: Module, ema: Ema | null): Tensor[] {
  return [...net.stateDict().values(), ...(ema ? [...ema.shadow.values()] : [])];
}

/** Batch norm over the global batch in every BatchNorm layer (train.sync_bn): in training mode
 *  each layer's statistics come from all ranks (c10d syncBatchNorm); in eval mode the running
 *  statistics are used as before. Returns how many layers were converted. */
export function syncBatchNorm(net: Module, dist: DistributedRun): number {
  let n = 0;
  net.apply((m) => {
    if (!(m instanceof BatchNorm1d || m instanceof BatchNorm2d || m instanceof BatchNorm3d)) return;
    const bn = m;
    const local = bn.forward.bind(bn);
    bn.forward = (x: Tensor): Tensor => {
      if (!bn.training) return local(x);
      const sd = bn.stateDict();
      const rm = sd.get('running_mean') ?? null, rv = sd.get('running_var') ?? null;
      if (rm) { const t = sd.get('num_batches_tracked'); if (t) noGrad(() => t.add_(1)); }
      return syncBatchNormOp(dist.pg, x, rm, rv, sd.get('weight') ?? null, sd.get('bias') ?? null, { momentum: bn.momentum, eps: bn.eps });
    };
    n++;
  });
  return n;
}

/** Progress output of ranks other than 0. */
export function sinkStream(): NodeJS.WriteStream {
  return new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
}
