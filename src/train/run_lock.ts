// One trainer per run directory. Two `eflip train` writing the same run_dir (a requeued job
// while the old one still runs, `checkpoint=DIR` started twice) interleave metrics.jsonl and
// overwrite each other's checkpoints. Rank 0 takes RUN_DIR/.eflip-train.lock (pid, host) for the
// run's whole life; a lock whose process is gone (kill -9) is stale and taken over
// (io/dir_lock.ts, which `eflip prepare` uses for its --out too).
import { lockDir } from '../io/dir_lock.js';

export const LOCK_FILE = '.eflip-train.lock';

/** Take the run directory's lock; returns its release. Throws (one line) while another trainer
 *  holds it. Where no lock can be written at all, the run goes on unlocked. */
export function lockRunDir(runDir: string): () => void {
  return lockDir(runDir, {
    file: LOCK_FILE,
    what: `run_dir ${runDir}`,
    by: 'eflip train',
    instead: 'give another run_dir',
  });
}
