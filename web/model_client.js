// The page's side of web/model_worker.js: open a model in the worker, push prepared ROI frames
// without waiting for each answer, and get each frame's top words back as a promise.
export class ModelWorker {
  constructor(url = '/model_worker.js') {
    this.worker = new Worker(url, { type: 'module' });
    this.pending = new Map();
    this.id = 0;
    this.worker.onmessage = (e) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (e.data.type === 'error') p.reject(new Error(e.data.message));
      else p.resolve(e.data);
    };
    this.worker.onerror = (e) => {
      const err = new Error(`the model worker failed: ${e.message ?? 'could not start'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  call(msg, transfer = []) {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /** `source`: a model URL or the bytes of a dropped .onnx; `options`: loadLipReader's. */
  open(source, options) {
    return this.call({ type: 'open', source, options });
  }

  /** One prepared frame (C·S·S floats, transferred; null: none), after `repeat` repeats of
   *  the previous one; resolves with {top, ms, seen} (`seen`: frames the reader has had). */
  push(data, seq, repeat = 0) {
    return this.call({ type: 'push', data, seq, repeat }, data ? [data.buffer] : []);
  }

  /** frames pushed and not answered yet */
  get inFlight() {
    return this.pending.size;
  }

  async close() {
    try {
      await this.call({ type: 'close' });
    } finally {
      this.worker.terminate();
    }
  }
}
