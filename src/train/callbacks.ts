// Trainer callbacks with Lightning's hook names. Callbacks carry state (stateDict /
// loadStateDict) that travels in every checkpoint, so a resumed run continues exactly.
import { existsSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Scalars known after a validation epoch (val_loss, val_acc, val_top5, val_f1, train_loss, train_acc). */
export type EpochMetrics = Record<string, number>;

/** What callbacks may ask of the trainer. */
export interface TrainerHandle {
  epoch: number;
  step: number;
  shouldStop: boolean;
  stopReason?: string;
  /** atomically write a resumable checkpoint (a no-op on data-parallel ranks other than 0) */
  saveCheckpoint(path: string, extra?: Record<string, unknown>): void;
  /** false on data-parallel ranks other than 0: they keep the bookkeeping but touch no file */
  readonly writesFiles?: boolean;
  log(msg: string): void;
}

export interface Callback {
  readonly name: string;
  onTrainStart?(t: TrainerHandle): void;
  onTrainEpochStart?(t: TrainerHandle, epoch: number): void;
  onTrainBatchEnd?(t: TrainerHandle, out: { loss: number; step: number; batch: number }): void;
  onTrainEpochEnd?(t: TrainerHandle, m: EpochMetrics): void;
  onValidationEpochEnd?(t: TrainerHandle, m: EpochMetrics): void;
  onTrainEnd?(t: TrainerHandle): void;
  onException?(t: TrainerHandle, e: unknown): void;
  stateDict?(): unknown;
  loadStateDict?(s: any): void;
}

const better = (mode: 'min' | 'max', a: number, b: number, minDelta = 0) =>
  mode === 'min' ? a < b - minDelta : a > b + minDelta;

/** Stop when `monitor` has not improved by more than min_delta for `patience` validations. */
export class EarlyStopping implements Callback {
  readonly name = 'EarlyStopping';
  best: number;
  wait = 0;
  stoppedEpoch: number | null = null;
  constructor(
    readonly opts: { monitor: string; mode: 'min' | 'max'; minDelta: number; patience: number },
  ) {
    this.best = opts.mode === 'min' ? Infinity : -Infinity;
  }
  onValidationEpochEnd(t: TrainerHandle, m: EpochMetrics): void {
    const v = m[this.opts.monitor];
    if (v === undefined || Number.isNaN(v)) return;
    if (better(this.opts.mode, v, this.best, this.opts.minDelta)) {
      this.best = v;
      this.wait = 0;
      return;
    }
    this.wait++;
    if (this.wait >= this.opts.patience) {
      this.stoppedEpoch = t.epoch;
      t.shouldStop = true;
      t.stopReason = `early stopping: ${this.opts.monitor} did not improve on ${this.best.toFixed(5)} for ${this.wait} validations`;
    }
  }
  stateDict() {
    return { best: this.best, wait: this.wait, stoppedEpoch: this.stoppedEpoch };
  }
  loadStateDict(s: { best: number | string; wait: number; stoppedEpoch: number | null }): void {
    this.best = Number(s.best); // JSON turns ±Infinity into strings via our replacer
    this.wait = s.wait;
    this.stoppedEpoch = s.stoppedEpoch;
  }
}

export interface SavedCheckpoint {
  path: string;
  score: number;
  epoch: number;
  step: number;
}

/** Keep the best `topK` checkpoints by `monitor` plus `last.ckpt`; every write is atomic. */
export class ModelCheckpoint implements Callback {
  readonly name = 'ModelCheckpoint';
  best: SavedCheckpoint[] = [];
  lastPath: string | null = null;
  constructor(
    readonly opts: {
      dir: string;
      monitor: string;
      mode: 'min' | 'max';
      topK: number;
      saveLast: boolean;
    },
  ) {}

  get bestPath(): string | null {
    return this.best[0]?.path ?? null;
  }

  fileName(epoch: number, step: number, score: number): string {
    return `epoch=${epoch}-step=${step}-${this.opts.monitor}=${score.toFixed(4)}.ckpt`;
  }

  onValidationEpochEnd(t: TrainerHandle, m: EpochMetrics): void {
    const score = m[this.opts.monitor];
    const evicted: SavedCheckpoint[] = [];
    let saveTopK: SavedCheckpoint | null = null;
    if (this.opts.topK > 0 && score !== undefined && Number.isFinite(score)) {
      const worst = this.best[this.best.length - 1];
      if (this.best.length < this.opts.topK || better(this.opts.mode, score, worst.score)) {
        saveTopK = {
          path: join(this.opts.dir, this.fileName(t.epoch, t.step, score)),
          score,
          epoch: t.epoch,
          step: t.step,
        };
        this.best.push(saveTopK);
        this.best.sort((a, b) =>
          this.opts.mode === 'min' ? a.score - b.score : b.score - a.score,
        );
        while (this.best.length > this.opts.topK) evicted.push(this.best.pop()!);
      }
    }
    // state is updated before writing so the files carry the bookkeeping that includes them
    if (saveTopK && !evicted.includes(saveTopK)) t.saveCheckpoint(saveTopK.path);
    if (this.opts.saveLast) this.saveLast(t);
    if (t.writesFiles !== false)
      for (const e of evicted) if (e !== saveTopK && existsSync(e.path)) unlinkSync(e.path);
  }

  saveLast(t: TrainerHandle): void {
    this.lastPath = join(this.opts.dir, 'last.ckpt');
    t.saveCheckpoint(this.lastPath);
  }

  stateDict() {
    return { best: this.best, lastPath: this.lastPath };
  }
  loadStateDict(s: { best: SavedCheckpoint[]; lastPath: string | null }): void {
    // the files live in this run's checkpoint dir, whatever dir the checkpoint was written in
    // (a resumed copy of a run must never evict or read the original's files)
    this.best = s.best.map((b) => ({ ...b, path: join(this.opts.dir, basename(b.path)) }));
    this.lastPath = s.lastPath === null ? null : join(this.opts.dir, basename(s.lastPath));
  }
}
