// Front-end lanes in the browser: module Web Workers (dist/web/lane_worker.js, web/lane_worker.js
// bundled), each running onnxruntime-web on one wasm thread. One-thread wasm needs no
// cross-origin isolation, so a page without COOP/COEP headers still uses every core for a clip.
import { openLanes, type LaneHandle, type LaneTask } from './frontend_lane.js';
import type { FrontendLanes } from './ort_types.js';
import { TaskCalls, type TaskAnswer } from '../data/task_calls.js';

class WebLane extends TaskCalls<LaneTask> implements LaneHandle {
  private readonly worker: Worker;

  constructor(url: string | URL) {
    const worker = new Worker(url, { type: 'module' });
    super((m, transfer) => worker.postMessage(m, transfer), 'a front-end lane');
    this.worker = worker;
    worker.onmessage = (e: MessageEvent<TaskAnswer>) => this.answer(e.data);
    worker.onerror = (e) => {
      e.preventDefault?.();
      this.fail(new Error(`a front-end lane failed: ${e.message ?? 'could not start'}`));
    };
  }

  async terminate(): Promise<void> {
    this.fail(new Error('a front-end lane was stopped'));
    this.worker.terminate();
  }
}

/** `count` lanes of the front-end graph `frontend`, each a Web Worker from `workerUrl`. */
export function startWebLanes(
  frontend: Uint8Array,
  source: string,
  o: { count: number; featureDim: number; workerUrl: string | URL; wasmPaths?: string },
): Promise<FrontendLanes> {
  const lanes = Array.from({ length: o.count }, () => new WebLane(o.workerUrl));
  return openLanes(lanes, source, o.featureDim, {
    op: 'open',
    frontend,
    source,
    wasmPaths: o.wasmPaths,
  });
}
