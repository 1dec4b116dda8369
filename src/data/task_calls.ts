// Calls to a worker that answers each `{ id, task }` message with `{ id, result }` or
// `{ id, error }` (./pool.ts answerTasks, web/lane_worker.js): ids, the pending promises, and
// failing them all once the worker is gone. No Node imports: the Node handle (./pool.ts
// TaskWorker) and the browser's (src/infer/web_lanes.ts) both extend it.
export interface TaskAnswer {
  id: number;
  result?: unknown;
  error?: string;
}

export class TaskCalls<T> {
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  private idleWaiters: (() => void)[] = [];
  dead = false;

  /** `post` sends a message to the worker; `busy(true)` before the first call in flight,
   *  `busy(false)` after the last is answered; `what` names the worker in errors. */
  constructor(
    private readonly post: (m: { id: number; task: T }, transfer: ArrayBuffer[]) => void,
    protected readonly what: string,
    private readonly busy: (busy: boolean) => void = () => {},
  ) {}

  /** calls sent and not answered yet */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** A message from the worker. */
  answer(m: TaskAnswer): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (!this.pending.size) this.settle();
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.result);
  }

  /** The worker is gone: every pending and later call rejects with `e`. */
  fail(e: Error): void {
    this.dead = true;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.settle();
  }

  private settle(): void {
    this.busy(false);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves once no call is in flight (at once when none is). */
  idle(): Promise<void> {
    if (!this.pending.size) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Send a task; `transfer` moves those buffers to the worker instead of copying them. */
  call<R>(task: T, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.dead) return Promise.reject(new Error(`${this.what} is not running`));
    const id = this.next++;
    if (!this.pending.size) this.busy(true);
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ id, task }, transfer);
    });
  }
}
