// Loader worker: opens the dataset once, builds batches on request, transfers the buffers.
import { parentPort, workerData } from 'node:worker_threads';
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

parentPort!.on('message', async ({ id, req }: { id: number; req: BatchRequest }) => {
  try {
    const b = await buildBatch(await ready, req, augment, seed);
    const transfer = [b.x.buffer, b.labels.buffer, b.indices.buffer];
    if (b.labelsB) transfer.push(b.labelsB.buffer, b.lambda!.buffer);
    if (b.boundary) transfer.push(b.boundary.buffer);
    parentPort!.postMessage({ id, batch: b }, transfer as ArrayBuffer[]);
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message ?? String(e) });
  }
});
