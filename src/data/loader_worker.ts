// Loader worker: opens the dataset once, builds batches on request, transfers the buffers.
import { workerData } from 'node:worker_threads';
import { answerTasks } from './pool.js';
import { openDataset, type DatasetSpec } from './dataset.js';
import { buildBatch, type BatchRequest } from './batch.js';
import type { AugmentConfig } from './augment.js';

const { spec, augment, seed } = workerData as {
  spec: DatasetSpec;
  augment: AugmentConfig;
  seed: number;
};
const ready = openDataset(spec);
ready.catch(() => {}); // reported with every request below, not as an unhandled rejection

answerTasks(
  async (req: BatchRequest) => buildBatch(await ready, req, augment, seed),
  (b) => {
    const transfer = [b.x.buffer, b.labels.buffer, b.indices.buffer];
    if (b.labelsB) transfer.push(b.labelsB.buffer, b.lambda!.buffer);
    if (b.boundary) transfer.push(b.boundary.buffer);
    return transfer as ArrayBuffer[];
  },
);
