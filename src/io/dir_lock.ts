// One writer per directory: the writer takes DIR/<lock file> (pid, host, start) for its whole
// life; a lock whose process is gone (kill -9) is stale and taken over. `eflip train` holds its
// run_dir's (src/train/run_lock.ts), `eflip prepare` its --out's (src/data/prepare.ts): two of
// them writing one directory would interleave or destroy each other's files.
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { makeDirs } from './make_dirs.js';
import { processAlive } from './atomic.js';

export interface DirLockHolder {
  pid: number;
  host: string;
  started: string;
}

export interface DirLockOptions {
  /** the lock's file name inside the directory ('.eflip-train.lock') */
  file: string;
  /** the directory as messages name it ('run_dir runs/a', '--out shards') */
  what: string;
  /** the kind of writer that holds such locks ('eflip train') */
  by: string;
  /** what to do instead of waiting ('give another run_dir') */
  instead: string;
}

/** A lock file's text, or null (gone, not a regular file). Read without waiting on a FIFO and
 *  at most 4 KiB of it (a holder is ~100 bytes). */
function readLock(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(4096);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The holder a lock file names, or null (torn, empty, not a regular file: stale). */
function readHolder(file: string): DirLockHolder | null {
  try {
    const held = JSON.parse(readLock(file) ?? '') as DirLockHolder;
    return held && typeof held.pid === 'number' ? held : null;
  } catch {
    return null;
  }
}

/** Take the directory's lock (creating the directory); returns its release. Throws (one line)
 *  while another writer holds it. Where no lock can be written at all, the writer goes on
 *  unlocked. */
export function lockDir(dir: string, o: DirLockOptions): () => void {
  makeDirs(dir);
  const file = join(dir, o.file);
  const me: DirLockHolder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
  };
  const text = JSON.stringify(me);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, text, { flag: 'wx' }); // O_EXCL: never through a planted symlink
      return () => {
        try {
          if (readLock(file) === text) unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return () => {};
    }
    const held = readHolder(file);
    if (held) {
      if (held.host !== me.host)
        throw new Error(
          `${o.what} is in use by ${o.by} on ${held.host} (pid ${held.pid}, since ${held.started}); if that run is gone, delete ${file}`,
        );
      if (held.pid !== process.pid && processAlive(held.pid))
        throw new Error(
          `${o.what} is in use by ${o.by} (pid ${held.pid}, since ${held.started}); wait for it to end, or ${o.instead}`,
        );
    }
    try {
      unlinkSync(file); // stale: its process is gone
    } catch {
      /* raced with another taker: try again */
    }
  }
  throw new Error(`${o.what}: could not take its lock ${file}`);
}
