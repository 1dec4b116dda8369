// The one `mkdir -p` of eflip: creates the missing directories of a path one level at a time,
// in bounded steps. Node's own recursive mkdir retries forever where creating a child says
// ENOENT while its parent exists (procfs, e.g. EFLIP_CACHE_DIR=/proc/self: 100 % CPU, no end);
// here that is an error naming the directory.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/** Make `dir` and its missing parents; throws (with the errno code) when one cannot be made. */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ;) {
    try {
      if (statSync(d).isDirectory()) break;
      throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
    } catch (e) {
      if (code(e) !== 'ENOENT') throw e;
    }
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      // made meanwhile by another process: fine; anything else (EACCES, ENOENT on procfs ...) is not
      if (code(e) === 'EEXIST' && statSync(d).isDirectory()) continue;
      throw e;
    }
  }
}
