// The page's side of web/model_worker.js: open a model in the worker, push prepared ROI frames
// without waiting for each answer, and get each frame's top words back as a promise.
import { WorkerClient } from './worker_client.js';

export class ModelWorker extends WorkerClient {
  constructor(url = '/model_worker.js') {
    super(url, 'the model worker');
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

  async close() {
    try {
      await this.call({ type: 'close' });
    } finally {
      this.terminate();
    }
  }
}
