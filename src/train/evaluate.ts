// Exact evaluation of a network over a batch source (no grad, eval mode): the metrics of
// metrics.ts from per-sample log-probabilities. Used by the trainer and by `eflip eval`.
import { noGrad, tidy, type Tensor } from '../engine/index.js';
import { MetricAccumulator, type EvalMetrics } from './metrics.js';
import { ProgressBar } from './progress.js';
import type { BatchSource } from './batch_source.js';
import { feedBatches, hostFloat32 } from './device_step.js';

export async function evaluateSource(
  forward: (x: Tensor) => Tensor,
  source: BatchSource,
  labels: string[],
  opts: {
    limit?: number | null;
    label?: string;
    stream?: NodeJS.WriteStream;
    quiet?: boolean;
    device?: string;
    /** data-parallel: sum the counts of every rank (each evaluated its own part of the source) */
    reduce?: (counts: Float64Array) => Float64Array;
  } = {},
): Promise<EvalMetrics> {
  const acc = new MetricAccumulator(labels);
  const total = opts.limit ? Math.min(opts.limit, source.batchesPerEpoch) : source.batchesPerEpoch;
  const bar = opts.quiet
    ? null
    : new ProgressBar(opts.label ?? 'eval', total, { stream: opts.stream });
  let i = 0;
  // batches go to the network's device one ahead (device_step.ts; the CPU takes the same path)
  for await (const b of feedBatches(source.batches(0, 0), opts.device ?? 'cpu')) {
    if (i >= total) {
      b.x.dispose();
      break;
    }
    let lp: Float32Array;
    try {
      lp = tidy(() => noGrad(() => hostFloat32(forward(b.x))));
    } finally {
      b.x.dispose();
    }
    acc.update(lp, b.y);
    i++;
    const r = acc.running();
    bar?.update(i, b.y.length, { loss: r.loss, acc: r.acc });
  }
  bar?.done();
  if (opts.reduce) acc.load(opts.reduce(acc.counts()));
  return acc.result();
}
