// One lane of ./frontend_lanes.ts: a worker thread answering lane tasks on one-thread
// onnxruntime-node sessions of the front-end graph (./frontend_lane.ts laneRunner), in order.
import { workerData } from 'node:worker_threads';
import { answerTasks } from '../data/pool.js';
import { laneRunner, type LaneTask } from './frontend_lane.js';
import { nodePlatform } from './ort_node.js';

interface LaneData {
  frontend: Uint8Array;
  source: string;
  spinning: boolean;
}

if (workerData && (workerData as Partial<LaneData>).frontend instanceof Uint8Array) {
  const { frontend, source, spinning } = workerData as LaneData;
  answerTasks<LaneTask, Float32Array | boolean>(
    laneRunner(nodePlatform('cpu', 1, spinning), frontend, source),
    (r) => (r instanceof Float32Array ? [r.buffer as ArrayBuffer] : []),
  );
}
