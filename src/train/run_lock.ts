// One trainer per run directory. Two `eflip train` writing the same run_dir (a requeued job
// while the old one still runs, `checkpoint=DIR` started twice) interleave metrics.jsonl and
// overwrite each other's checkpoints. Rank 0 takes RUN_DIR/.eflip-train.lock (pid, host) for the
// run's whole life; a lock whose process is gone (kill -9) is stale and taken over.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { makeDirs } from '../io/make_dirs.js';
import { processAlive } from '../io/atomic.js';

export const LOCK_FILE = '.eflip-train.lock';

interface Holder {
  pid: number;
  host: string;
  started: string;
}

/** Take the run directory's lock; returns its release. Throws (one line) while another trainer
 *  holds it. Where no lock can be written at all, the run goes on unlocked. */
export function lockRunDir(runDir: string): () => void {
  makeDirs(runDir);
  const file = join(runDir, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const text = JSON.stringify(me);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, text, { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(file, 'utf8') === text) unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return () => {};
    }
    let held: Holder | null = null;
    try {
      held = JSON.parse(readFileSync(file, 'utf8')) as Holder;
    } catch {
      /* torn or empty: stale */
    }
    if (held && typeof held.pid === 'number') {
      if (held.host !== me.host)
        throw new Error(
          `run_dir ${runDir} is in use by eflip train on ${held.host} (pid ${held.pid}, since ${held.started}); if that run is gone, delete ${file}`,
        );
      if (held.pid !== process.pid && processAlive(held.pid))
        throw new Error(
          `run_dir ${runDir} is in use by eflip train (pid ${held.pid}, since ${held.started}); wait for it to end, or give another run_dir`,
        );
    }
    try {
      unlinkSync(file); // stale: its process is gone
    } catch {
      /* raced with another taker: try again */
    }
  }
  throw new Error(`run_dir ${runDir}: could not take its lock ${file}`);
}
