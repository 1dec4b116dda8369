// Worker side of ClipWorkers (./ort_clip_workers.ts): one onnxruntime-node session with one
// intra-op thread, answering each clip with its log-probabilities.
import { workerData } from 'node:worker_threads';
import { answerTasks } from '../data/pool.js';
import { OnnxLipReader } from './onnx_lipreader.js';
import { bytesSource } from './onnx_model_source.js';
import { nodePlatform } from './ort_node.js';
import type { Clip } from './types.js';

const { model, source, spinning } = workerData as {
  model: Uint8Array;
  source: string;
  spinning: boolean;
};
// the worker's own reader: CPU, one thread, no workers of its own
const reader = nodePlatform('cpu', 1, spinning).then((p) =>
  OnnxLipReader.open({ ...p, clipWorkers: undefined }, bytesSource(model, source)),
);

answerTasks(
  async (clip: Clip) => (await reader).predictClip(clip),
  (lp) => [lp.buffer as ArrayBuffer],
);
