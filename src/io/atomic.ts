// Atomic file writes: write a temp file in the same directory, fsync it, rename it over the
// target, fsync the directory. A crash at any point leaves either the old or the new file;
// a failed write (disk full, quota, I/O error) removes its temp file and names the target.
// Temp files are `.NAME.tmp-PID-STAMP`; removeStaleTemps() deletes those of dead writers
// (a `kill -9` mid-write leaves one behind).
import {
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  unlinkSync,
  mkdirSync,
  readdirSync,
  copyFileSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';

const TEMP_RE = /^\..+\.tmp-(\d+)-[0-9a-z]+$/;

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse directory fsync; the rename itself is still atomic
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for this filesystem or limit',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  EIO: 'I/O error',
};

/** A failed atomic write: the target is unchanged (the previous file, if any, is intact). */
export class WriteError extends Error {
  override name = 'WriteError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    cause: string,
  ) {
    super(`cannot write ${path}: ${cause} (the previous file, if any, is unchanged)`);
  }
}

function writeError(path: string, e: unknown): WriteError {
  const code = (e as NodeJS.ErrnoException)?.code;
  return new WriteError(
    path,
    code,
    (code && REASONS[code]) ?? (e as Error)?.message?.split('\n')[0] ?? String(e),
  );
}

/** The temp name writeFileAtomic uses for `path` (same directory, dot-prefixed, writer's pid). */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
  );
}

/** Write `parts` (concatenated) to `path` atomically; throws WriteError naming `path` on failure. */
export function writeFileAtomic(
  path: string,
  data: Uint8Array | string | (Uint8Array | string)[],
): void {
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  const parts = Array.isArray(data) ? data : [data];
  let fd: number | null = null;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'w');
    for (const p of parts) {
      const buf = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null)
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    try {
      unlinkSync(tmp);
    } catch {
      /* never created or already gone */
    }
    throw writeError(path, e);
  }
  fsyncDir(dir);
}

/** Copy `from` to `to` atomically (large files are copied by the kernel, not through memory). */
export function copyFileAtomic(from: string, to: string): void {
  const tmp = tempPathFor(to);
  try {
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, tmp);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, to);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created or already gone */
    }
    throw writeError(to, e);
  }
  fsyncDir(dirname(to));
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Delete the temp files of writers that are no longer running in `dir`; returns their names. */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_RE.exec(n);
    if (!m || alive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, n));
      removed.push(n);
    } catch {
      /* raced with someone else, or not ours to delete */
    }
  }
  return removed;
}
