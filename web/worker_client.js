// The page's side of a module Web Worker that answers numbered messages (web/worker_answers.js):
// call() posts one and resolves with its answer; an answer of type 'error' rejects it, and a
// worker that fails (or cannot start) rejects every call waiting on it and every later one.
export class WorkerClient {
  /** `what`: the worker in error messages ("the model worker") */
  constructor(url, what) {
    this.what = what;
    this.worker = new Worker(url, { type: 'module' });
    this.pending = new Map();
    this.id = 0;
    this.failure = null;
    this.worker.onmessage = (e) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (e.data.type === 'error') p.reject(new Error(e.data.message));
      else p.resolve(e.data);
    };
    this.worker.onerror = (e) => {
      this.failure = new Error(`${what} failed: ${e.message ?? 'could not start'}`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
  }

  /** whether the worker has failed (its calls reject) */
  get dead() {
    return this.failure !== null;
  }

  call(msg, transfer = []) {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /** calls not answered yet */
  get inFlight() {
    return this.pending.size;
  }

  terminate() {
    this.worker.terminate();
    this.failure ??= new Error(`${this.what} was closed`);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
