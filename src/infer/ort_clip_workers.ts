// Clips across cores (onnxruntime-node, CPU): N worker threads, each running whole clips on its
// own one-thread session. onnxruntime-node runs a session synchronously on the calling thread,
// so sessions in one thread never overlap; and one clip on two intra-op threads spends ~10 %
// more CPU per clip than on one (the two threads wait for each other at every op). See
// docs/inference.md "What makes the CPU path fast".
import { Worker } from 'node:worker_threads';
import type { ClipRunner } from './ort_types.js';
import type { Clip } from './types.js';

interface Call {
  clip: Clip;
  resolve: (lp: Float32Array) => void;
  reject: (e: Error) => void;
}

export class ClipWorkers implements ClipRunner {
  private idle: Worker[] = [];
  private queue: Call[] = [];
  private running = new Map<Worker, Call>();
  private closed = false;
  readonly size: number;

  constructor(model: Uint8Array, source: string, workers: number, spinning: boolean) {
    this.size = workers;
    const url = new URL('./ort_clip_worker.js', import.meta.url);
    for (let i = 0; i < workers; i++) {
      const w = new Worker(url, { workerData: { model, source, spinning } });
      w.unref(); // an idle pool does not keep the process alive
      w.on('message', (m: { result?: Float32Array; error?: string }) => {
        const call = this.running.get(w);
        this.running.delete(w);
        if (m.error !== undefined) call?.reject(new Error(m.error));
        else call?.resolve(m.result!);
        this.idle.push(w);
        this.pump();
      });
      w.on('error', (e) => this.fail(w, e));
      w.on('exit', (code) => this.fail(w, new Error(`onnxruntime worker exited (code ${code})`)));
      this.idle.push(w);
    }
  }

  private fail(w: Worker, e: Error): void {
    this.idle = this.idle.filter((x) => x !== w);
    const call = this.running.get(w);
    this.running.delete(w);
    if (call) call.reject(e);
    if (!this.idle.length && !this.running.size) for (const c of this.queue.splice(0)) c.reject(e);
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const call = this.queue.shift()!;
      this.running.set(w, call);
      w.ref();
      w.postMessage({ id: 0, task: call.clip }, [call.clip.data.buffer as ArrayBuffer]);
    }
    for (const w of this.idle) w.unref();
  }

  /** Log-probabilities of one clip; its data buffer is moved to the worker (pass a copy). */
  predict(clip: Clip): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('onnxruntime workers were released'));
    if (!this.idle.length && !this.running.size)
      return Promise.reject(new Error('no onnxruntime worker is running'));
    return new Promise((resolve, reject) => {
      this.queue.push({ clip, resolve, reject });
      this.pump();
    });
  }

  async release(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.running.keys()];
    this.idle = [];
    for (const c of this.queue.splice(0)) c.reject(new Error('onnxruntime workers were released'));
    await Promise.all(all.map((w) => w.terminate()));
  }
}
