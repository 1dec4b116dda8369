// Atomic file writes: write a temp file in the same directory, fsync it, rename it over the
// target, fsync the directory. A crash at any point leaves either the old or the new file;
// a failed write (disk full, quota, I/O error) removes its temp file and names the target.
// Temp files are `.NAME.tmp-PID-STAMP`; removeStaleTemps() deletes those of dead writers
// (a `kill -9` mid-write leaves one behind). A write replaces a symlink, never what it points
// to, and never replaces a device, FIFO or socket (writeTarget).
import {
  lstatSync,
  type Stats,
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  unlinkSync,
  readdirSync,
  copyFileSync,
  existsSync,
  linkSync,
} from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { makeDirs } from './make_dirs.js';

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
  EBUSY: 'the file is busy (a mount point, or in use)',
  ELOOP: 'too many levels of symbolic links',
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

/** A failed file operation's errno as words ("no space left on device"), else its first line. */
export function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && REASONS[code]) ?? (e as Error)?.message?.split('\n')[0] ?? String(e);
}

/** The WriteError for a failed write of `path` (its errno as words: "no space left on device"). */
export function writeError(path: string, e: unknown): WriteError {
  return new WriteError(path, (e as NodeJS.ErrnoException)?.code, errnoReason(e));
}

/** What an existing path is when it is not a regular file or a directory ('a FIFO', ...); null otherwise. */
export function specialFileKind(st: Stats): string | null {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return null;
}

/** A file output that is not a regular file (WriteError names it; nothing is written). */
export class NotRegularFileError extends Error {
  override name = 'NotRegularFileError';
  constructor(
    readonly path: string,
    /** 'is a FIFO (named pipe), not a regular file', ... */
    readonly reason: string,
  ) {
    super(`${path} ${reason}`);
  }
}

/**
 * The path a write to `path` replaces, resolved: a symlink there is replaced itself (what it
 * points to stays untouched: a link planted in an output directory never redirects a write).
 * Throws NotRegularFileError when `path` is a device, FIFO, socket or directory.
 */
export function writeTarget(path: string): string {
  const p = resolve(path);
  let st: Stats;
  try {
    st = lstatSync(p);
  } catch {
    return p; // a new file (missing parents are created by the writers)
  }
  const kind = st.isDirectory() ? 'a directory' : specialFileKind(st);
  if (kind) throw new NotRegularFileError(path, `is ${kind}, not a regular file`);
  return p;
}

/** The temp name writeFileAtomic uses for `path` (same directory, dot-prefixed, writer's pid). */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
  );
}

function checkedTarget(path: string): string {
  try {
    return writeTarget(path);
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new WriteError(path, undefined, e.reason);
    throw e;
  }
}

type FileData = Uint8Array | string | (Uint8Array | string)[];

function removeQuietly(p: string | null): void {
  if (p === null) return;
  try {
    unlinkSync(p);
  } catch {
    /* never created or already gone */
  }
}

/** `data` in a synced temp file beside `path` (its directory created); the temp's name. On
 *  failure the temp is gone and WriteError names `named`. */
function writeTemp(path: string, named: string, data: FileData): string {
  const tmp = tempPathFor(path);
  const parts = Array.isArray(data) ? data : [data];
  let fd: number | null = null;
  try {
    makeDirs(dirname(path));
    fd = openSync(tmp, 'w');
    for (const p of parts) {
      const buf = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    return tmp;
  } catch (e) {
    if (fd !== null)
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    removeQuietly(tmp);
    throw writeError(named, e);
  }
}

/** Write `parts` (concatenated) to `path` atomically; throws WriteError naming `path` on failure. */
export function writeFileAtomic(named: string, data: FileData): void {
  const path = checkedTarget(named);
  const tmp = writeTemp(path, named, data);
  try {
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw writeError(named, e);
  }
  fsyncDir(dirname(path));
}

/**
 * Write several files as one (a model and the parts that go with it): all or none of them are
 * replaced. Every file is first written to a synced temp (a full disk there changes nothing);
 * then each is renamed over its target, the previous file kept under a temp name (hard link,
 * else copy) until all are in place and put back if a later rename fails (e.g. an immutable
 * or foreign-owned target). Only a crash between the renames can leave a mix, which readers
 * of such sets detect (the parts share `eflip.weights`, infer/onnx_model_source.ts).
 */
export function writeFilesAtomic(files: { path: string; data: FileData }[]): void {
  const targets = files.map((f) => checkedTarget(f.path));
  const temps: string[] = [];
  try {
    files.forEach((f, i) => temps.push(writeTemp(targets[i], f.path, f.data)));
  } catch (e) {
    temps.forEach(removeQuietly);
    throw e;
  }
  const backups: (string | null)[] = [];
  let i = 0;
  try {
    for (; i < files.length; i++) {
      let backup: string | null = null;
      if (existsSync(targets[i])) {
        backup = tempPathFor(targets[i]);
        try {
          linkSync(targets[i], backup);
        } catch {
          try {
            copyFileSync(targets[i], backup);
          } catch (e) {
            removeQuietly(backup);
            throw e;
          }
        }
      }
      backups.push(backup);
      renameSync(temps[i], targets[i]);
    }
  } catch (e) {
    for (let j = 0; j < i; j++) {
      try {
        if (backups[j]) renameSync(backups[j]!, targets[j]);
        else unlinkSync(targets[j]);
      } catch {
        /* as much as can be put back */
      }
    }
    temps.slice(i).forEach(removeQuietly);
    removeQuietly(backups[i] ?? null);
    throw writeError(files[i].path, e);
  }
  backups.forEach(removeQuietly);
  for (const d of new Set(targets.map((t) => dirname(t)))) fsyncDir(d);
}

/** Copy `from` to `to` atomically (large files are copied by the kernel, not through memory). */
export function copyFileAtomic(from: string, named: string): void {
  const to = checkedTarget(named);
  const tmp = tempPathFor(to);
  try {
    makeDirs(dirname(to));
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
    throw writeError(named, e);
  }
  fsyncDir(dirname(to));
}

/** Whether process `pid` exists (also one of another user's). */
export function processAlive(pid: number): boolean {
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
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, n));
      removed.push(n);
    } catch {
      /* raced with someone else, or not ours to delete */
    }
  }
  return removed;
}
