// Front-end lanes in the browser: module Web Workers (dist/web/lane_worker.js, web/lane_worker.js
// bundled), each running onnxruntime-web on one wasm thread. One-thread wasm needs no
// cross-origin isolation, so a page without COOP/COEP headers still uses every core for a clip.
import { openLanes, type LaneHandle, type LaneTask } from './frontend_lane.js';
import type { FrontendLanes } from './ort_types.js';

class WebLane implements LaneHandle {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  dead = false;

  constructor(url: string | URL) {
    this.worker = new Worker(url, { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<{ id: number; result?: unknown; error?: string }>) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (e.data.error !== undefined) p.reject(new Error(e.data.error));
      else p.resolve(e.data.result);
    };
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      this.fail(new Error(`a front-end lane failed: ${e.message ?? 'could not start'}`));
    };
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  private fail(e: Error): void {
    this.dead = true;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  call<R>(task: LaneTask, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.dead) return Promise.reject(new Error('a front-end lane is not running'));
    const id = this.next++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, task }, transfer);
    });
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
