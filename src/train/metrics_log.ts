// metrics.jsonl: one JSON object per line, appended per logged step and per epoch. Each line
// is written with a single appendFileSync so a crash never leaves half a record in the middle.
import { appendFileSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
      mkdirSync(dirname(this.path), { recursive: true });
      this.dirMade = true;
    }
    const line = JSON.stringify({ time: Date.now() / 1000, ...rec }, (_, v) =>
      typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
    );
    appendFileSync(this.path, line + '\n');
  }
  /** Drop records after `step` (used on resume so a re-run stretch is not logged twice). */
  static read(path: string): MetricRecord[] {
    if (!existsSync(path)) return [];
    const out: MetricRecord[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        /* torn last line after a crash: skip */
      }
    }
    return out;
  }
}
