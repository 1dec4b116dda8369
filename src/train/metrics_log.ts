// metrics.jsonl: one JSON object per line, appended per logged step and per epoch. Each line
// is written with a single appendFileSync so a crash never leaves half a record in the middle.
// On resume the records the checkpoint does not cover (written after it, before a crash or a
// kill) are dropped first (MetricsLog.resumeAt), so every step appears once.
import { appendFileSync, existsSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeError, writeFileAtomic } from '../io/atomic.js';
import { makeDirs } from '../io/make_dirs.js';

export interface MetricRecord {
  kind: 'step' | 'epoch' | 'test' | 'event';
  step: number;
  epoch: number;
  time: number;
  [key: string]: unknown;
}

export class MetricsLog {
  private dirMade = false;
  constructor(readonly path: string) {}
  append(rec: Omit<MetricRecord, 'time'> & { time?: number }): void {
    if (!this.dirMade) {
      makeDirs(dirname(this.path));
      this.dirMade = true;
    }
    const line = JSON.stringify({ time: Date.now() / 1000, ...rec }, (_, v) =>
      typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
    );
    // a failed append (full disk) is cut back to the records before it and named in one line
    let size = 0;
    try {
      size = statSync(this.path).size;
    } catch {
      /* a new file */
    }
    try {
      appendFileSync(this.path, line + '\n');
    } catch (e) {
      try {
        truncateSync(this.path, size);
      } catch {
        /* as it is: MetricsLog.read skips a torn last line */
      }
      throw writeError(this.path, e);
    }
  }

  /** The records of a metrics.jsonl (a torn last line after a crash is skipped). */
  static read(path: string): MetricRecord[] {
    if (!existsSync(path)) return [];
    return MetricsLog.parse(readFileSync(path, 'utf8')).map(([, r]) => r);
  }

  private static parse(text: string): [string, MetricRecord][] {
    const out: [string, MetricRecord][] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as MetricRecord;
        if (r !== null && typeof r === 'object') out.push([line, r]);
      } catch {
        /* torn last line after a crash: skip */
      }
    }
    return out;
  }

  /**
   * Resuming from a checkpoint taken after `state.step` optimizer steps with `state.epoch` epochs
   * complete: drop the records it does not cover — any record after that step, and an epoch
   * record of that step whose epoch the checkpoint had not closed (the resumed run writes them
   * again) — and torn lines. Rewritten atomically; returns how many records were dropped.
   */
  static resumeAt(path: string, state: { step: number; epoch: number }): number {
    if (!existsSync(path)) return 0;
    const text = readFileSync(path, 'utf8');
    const all = MetricsLog.parse(text);
    const keep = all.filter(
      ([, r]) =>
        typeof r.step !== 'number' ||
        r.step < state.step ||
        (r.step === state.step && (r.kind !== 'epoch' || r.epoch < state.epoch)),
    );
    const body = keep.map(([line]) => line + '\n').join('');
    if (body === text) return 0;
    writeFileAtomic(path, body);
    return all.length - keep.length;
  }
}
