// A small worker_threads pool: runs tasks on N workers (a module that answers each
// {id, task} message with {id, result} or {id, error}), results in completion order; and
// TaskWorker, one long-lived worker of that kind called like a function.
import { Worker, parentPort, type WorkerOptions } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { TaskCalls, type TaskAnswer } from './task_calls.js';

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
export class TaskWorker<T> extends TaskCalls<T> {
  private readonly worker: Worker;

  /** `what` names the worker in errors ("the detector thread"). */
  constructor(url: URL, what: string, options: WorkerOptions = {}) {
    // a worker inherits node's flags; --input-type (a parent run with `-e`) is refused for a file
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const worker = new Worker(url, { execArgv, ...options });
    super(
      (m, transfer) => worker.postMessage(m, transfer),
      what,
      (busy) => (busy ? worker.ref() : worker.unref()),
    );
    this.worker = worker;
    worker.unref();
    worker.on('message', (m: TaskAnswer) => this.answer(m));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', () => this.fail(new Error(`${what} exited`)));
  }

  /** Stop the worker once its calls in flight are answered (at most `waitMs`): stopping a
   *  thread inside a native call can abort the whole process (onnxruntime-node's binding throws
   *  a C++ exception into a terminating thread), and the answers are wanted anyway. */
  async terminate(waitMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    this.fail(new Error(`${this.what} was stopped`));
    await this.worker.terminate();
  }
}
