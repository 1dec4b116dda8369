// A small worker_threads pool: runs tasks on N workers (a module that answers each
// {id, task} message with {id, result} or {id, error}), results in completion order; and
// TaskWorker, one long-lived worker of that kind called like a function.
import { Worker, parentPort, type WorkerOptions } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

export interface PoolOptions {
  jobs?: number;
  /** data for the workers' workerData */
  workerData?: unknown;
}

export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Run every task; `onResult` sees each outcome as it arrives (error as a string). Resolves
 * when all tasks are done; workers are always terminated.
 */
export async function runPool<T, R>(
  workerUrl: URL,
  tasks: T[],
  onResult: (task: T, result: R | undefined, error: string | undefined) => void | Promise<void>,
  o: PoolOptions = {},
): Promise<void> {
  const n = Math.max(1, Math.min(o.jobs ?? defaultJobs(), tasks.length));
  if (!tasks.length) return;
  let next = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let done = 0;
      let failed = false;
      const feed = (w: Worker) => {
        if (next < tasks.length) {
          const id = next++;
          w.postMessage({ id, task: tasks[id] });
        }
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker(workerUrl, { workerData: o.workerData });
        workers.push(w);
        const settle = async (msg: { id: number; result?: R; error?: string }) => {
          try {
            await onResult(tasks[msg.id], msg.result, msg.error);
          } catch (e) {
            failed = true;
            reject(e);
            return;
          }
          done++;
          if (done === tasks.length) resolve();
          else if (!failed) feed(w);
        };
        w.on('message', (msg: { id: number; result?: R; error?: string }) => void settle(msg));
        w.on('error', (e) => {
          failed = true;
          reject(e);
        });
        w.on('exit', (code) => {
          if (code !== 0 && done < tasks.length && !failed) {
            failed = true;
            reject(new Error(`worker exited with code ${code}`));
          }
        });
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * The worker side of a pool (and of the data loader): answer each `{ id, task }` message with
 * `{ id, result }` or `{ id, error }`; `transfer` names the result's buffers to move, not copy.
 */
export function answerTasks<T, R>(
  run: (task: T) => Promise<R>,
  transfer?: (result: R) => ArrayBuffer[],
): void {
  const port = parentPort;
  if (!port) throw new Error('answerTasks runs only inside a worker thread');
  const answer = async ({ id, task }: { id: number; task: T }) => {
    try {
      const result = await run(task);
      port.postMessage({ id, result }, transfer?.(result));
    } catch (e) {
      port.postMessage({ id, error: (e as Error).message ?? String(e) });
    }
  };
  port.on('message', (m: { id: number; task: T }) => void answer(m));
}

/**
 * The main thread's handle on one long-lived worker that answers tasks (answerTasks). The worker
 * does not keep the process alive while idle; a pending call holds it. Once the worker fails or
 * exits, every pending and later call rejects (`dead` is set).
 */
export class TaskWorker<T> {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  dead = false;

  /** `what` names the worker in errors ("the detector thread"). */
  constructor(
    url: URL,
    private readonly what: string,
    options: WorkerOptions = {},
  ) {
    // a worker inherits node's flags; --input-type (a parent run with `-e`) is refused for a file
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    this.worker = new Worker(url, { execArgv, ...options });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!this.pending.size) this.worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new Error(`${what} exited`)));
  }

  /** calls sent and not answered yet */
  get pendingCalls(): number {
    return this.pending.size;
  }

  private fail(e: Error): void {
    this.dead = true;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Send a task; `transfer` moves those buffers to the worker instead of copying them. */
  call<R>(task: T, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.dead) return Promise.reject(new Error(`${this.what} is not running`));
    const id = this.next++;
    if (!this.pending.size) this.worker.ref();
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, task }, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.fail(new Error(`${this.what} was stopped`));
    await this.worker.terminate();
  }
}
