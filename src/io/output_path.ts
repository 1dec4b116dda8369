// The one output-path guard of every command that writes files. Before any work it refuses,
// with one line naming the flags involved:
// - an output that is one of the command's inputs (same file after symlinks and hard links:
//   device + inode; same directory for directory outputs), or a directory output inside an
//   input directory — writing it would destroy the input, or mix the outputs into it;
// - two outputs naming the same file (the second would replace the first);
// - a file output that is an existing directory, a device, a FIFO, a socket or a symlink (the
//   writers would replace the link, not the file it names), a directory output that is an
//   existing file, or a path through a file (`a.txt/out.mp4`);
// - an output whose nearest existing directory is not writable (read-only mount, permissions).
// A missing parent directory is fine: the writers create it (src/io/atomic.ts).
import {
  accessSync,
  constants,
  lstatSync,
  readlinkSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { NotRegularFileError, writeTarget } from './atomic.js';

/** A path the command was given or derived, with the flag that named it ('--out', 'VIDEO', 'run_dir'). */
export interface NamedPath {
  flag: string;
  path: string;
}

export interface OutputPath extends NamedPath {
  /** 'file' (default): a file is written there; 'dir': files are written under it */
  kind?: 'file' | 'dir';
}

export class OutputPathError extends Error {
  override name = 'OutputPathError';
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p); // follows symlinks: a link to the input is the input
  } catch {
    return null;
  }
}

/** Where a symlink at `p` points (as stored), or null when `p` is no symlink. */
function linkTarget(p: string): string | null {
  try {
    return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : null;
  } catch {
    return null;
  }
}

/** Absolute path with every existing prefix resolved through symlinks. */
export function canonicalPath(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : resolve(canonicalPath(parent), basename(abs));
  }
}

const same = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino;
const named = (n: NamedPath) => (n.flag === n.path ? n.path : `${n.flag} ${n.path}`);

/** Nearest existing ancestor directory of `p` (or p itself); throws when a file sits on the way. */
function existingDir(o: OutputPath, p: string): string {
  let d = resolve(p);
  for (;;) {
    const st = statOrNull(d);
    if (st) {
      if (!st.isDirectory())
        throw new OutputPathError(`${named(o)}: ${d} is a file, not a directory`);
      return d;
    }
    const up = dirname(d);
    if (up === d) return d;
    d = up;
  }
}

/**
 * Refuse (OutputPathError) outputs that would destroy an input or an earlier output, or that
 * cannot be written. Inputs that do not exist are ignored (their own readers report them).
 */
export function guardOutputs(outputs: OutputPath[], inputs: NamedPath[] = []): void {
  const ins = inputs.map((i) => ({ ...i, st: statOrNull(i.path) })).filter((i) => i.st);
  const seen: { o: OutputPath; canon: string; st: Stats | null }[] = [];
  for (const o of outputs) {
    const kind = o.kind ?? 'file';
    const st = statOrNull(o.path);
    if (st && kind === 'file' && st.isDirectory())
      throw new OutputPathError(`${named(o)} is a directory; give a file path`);
    if (st && kind === 'dir' && !st.isDirectory())
      throw new OutputPathError(`${named(o)} is a file, not a directory`);
    if (kind === 'dir') {
      // a directory output inside a directory input (run_dir=DATA/WORD/train): the outputs would
      // be mixed into the input, as when it is the input itself (below)
      const canon = canonicalPath(o.path);
      for (const i of ins) {
        if (!i.st!.isDirectory()) continue;
        const rel = relative(canonicalPath(i.path), canon);
        if (rel && !rel.startsWith('..') && !isAbsolute(rel))
          throw new OutputPathError(
            `${named(o)} is inside the directory ${named(i)}: writing into it would mix the outputs into the input; choose another ${o.flag}`,
          );
      }
    }
    if (st) {
      for (const i of ins) {
        if (same(st, i.st!)) {
          const harm =
            kind === 'dir'
              ? 'directory as ' +
                named(i) +
                ': writing into it would mix the outputs into the input'
              : 'file as ' + named(i) + ': writing it would destroy the input';
          throw new OutputPathError(`${named(o)} is the same ${harm}; choose another ${o.flag}`);
        }
      }
    }
    if (kind === 'file') {
      // a device, FIFO or socket, or a symlink (writing would replace the link, not the file it
      // names: ambiguous either way) is refused
      const link = linkTarget(o.path);
      if (link !== null)
        throw new OutputPathError(
          `${named(o)} is a symlink (to ${link}); give the path of the file itself, or remove the link`,
        );
      try {
        writeTarget(o.path);
      } catch (e) {
        if (!(e instanceof NotRegularFileError)) throw e;
        throw new OutputPathError(`${named(o)} ${e.reason}; choose another ${o.flag}`);
      }
    }
    const canon = canonicalPath(o.path);
    for (const e of seen) {
      if (e.canon === canon || (st && e.st && same(st, e.st))) {
        throw new OutputPathError(
          `${named(o)} and ${named(e.o)} name the same ${kind === 'dir' ? 'directory' : 'file'}; the second would replace the first — give them different paths`,
        );
      }
    }
    seen.push({ o, canon, st });
    const dir = existingDir(o, kind === 'dir' ? o.path : dirname(resolve(o.path)));
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
      throw new OutputPathError(`${named(o)}: directory ${dir} ${why}; choose another ${o.flag}`);
    }
  }
}

/** The file behind an `@FILE` argument (e.g. --words @list.txt) as an input of the guard; none otherwise. */
export function atFileInput(flag: string, spec: unknown): NamedPath[] {
  return typeof spec === 'string' && spec.startsWith('@') ? [{ flag, path: spec.slice(1) }] : [];
}
