// LRW index: walk ROOT/WORD/{train,val,test}/*.mp4 and read each clip's `Duration:` line
// (docs/design.md "Data"; the line is searched for, never assumed at a fixed position).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export interface LrwClip {
  /** absolute path of the .mp4 */
  path: string;
  word: string;
  split: Split;
  /** word duration in seconds from the .txt, when readable */
  duration?: number;
}

export interface LrwProblem {
  path: string;
  reason: string;
  /** 'no-duration': clip kept without a duration; 'skipped': not indexed (odd word name, not a regular file) */
  kind: 'no-duration' | 'skipped';
}

export interface LrwIndex {
  root: string;
  /** words found on disk, sorted (the standard class order when all 500 are present) */
  words: string[];
  clips: LrwClip[];
  /** clips kept without a duration, and other oddities */
  problems: LrwProblem[];
}

export class LrwError extends Error {
  override name = 'LrwError';
}

/** The `Duration: 0.53 seconds` line anywhere in the text; null when missing or garbled. */
export function parseDuration(text: string): number | null {
  const m = /^\s*Duration:\s*([-+]?\d*\.?\d+(?:e[-+]?\d+)?)/im.exec(text);
  if (!m) return null;
  const v = Number(m[1]);
  return Number.isFinite(v) && v > 0 ? v : null;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

/** Regular files of a directory (symlinks followed): a FIFO or device named *.mp4 would block ffmpeg forever. */
async function listFiles(dir: string): Promise<{ files: string[]; others: string[] }> {
  const files: string[] = [],
    others: string[] = [];
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return { files, others };
  }
  for (const e of entries) {
    const regular =
      e.isFile() ||
      (e.isSymbolicLink() && (await fsp.stat(path.join(dir, e.name)).catch(() => null))?.isFile());
    (regular ? files : others).push(e.name);
  }
  return { files, others };
}

/** A word directory's name must survive labels.txt (one label per line, # starts a comment). */
const LABEL_NAME = /^[^\s#]+$/u;

/** The .txt is read up to this many bytes (LRW's are ~200; the Duration line is near the top). */
const MAX_TXT_BYTES = 64 << 10;

async function readHead(file: string): Promise<string | null> {
  let fh;
  try {
    fh = await fsp.open(file, 'r');
    if (!(await fh.stat()).isFile()) return null;
    const buf = Buffer.alloc(MAX_TXT_BYTES);
    const { bytesRead } = await fh.read(buf, 0, MAX_TXT_BYTES, 0);
    return buf.toString('utf8', 0, bytesRead);
  } catch {
    return null;
  } finally {
    await fh?.close();
  }
}

/**
 * Index an LRW-layout tree. `words` limits the walk to those words (missing ones are an
 * error); `splits` to those splits. Clips are sorted by word, split, file name.
 */
export async function indexLrw(
  root: string,
  opts: { words?: readonly string[]; splits?: readonly Split[]; durations?: boolean } = {},
): Promise<LrwIndex> {
  const abs = path.resolve(root);
  const st = await fsp.stat(abs).catch(() => null);
  if (!st?.isDirectory())
    throw new LrwError(
      `LRW root '${root}' is not a directory (expected ROOT/WORD/{train,val,test}/*.mp4)`,
    );
  const onDisk: string[] = [];
  const problems: LrwProblem[] = [];
  for (const name of (await listDir(abs)).sort()) {
    const s = await fsp.stat(path.join(abs, name)).catch(() => null);
    if (!s?.isDirectory() || name.startsWith('.')) continue;
    if (LABEL_NAME.test(name)) onDisk.push(name);
    else
      problems.push({
        path: path.join(abs, name),
        reason: 'word directory skipped: a label cannot hold whitespace or #',
        kind: 'skipped',
      });
  }
  let words = onDisk;
  if (opts.words) {
    const missing = opts.words.filter((w) => !onDisk.includes(w));
    if (missing.length)
      throw new LrwError(
        `words not found under ${root}: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` (+${missing.length - 10} more)` : ''}`,
      );
    words = [...opts.words];
  }
  const splits = opts.splits ?? SPLITS;
  const clips: LrwClip[] = [];
  for (const word of words) {
    for (const split of splits) {
      const dir = path.join(abs, word, split);
      const listed = await listFiles(dir);
      const names = listed.files.filter((n) => n.toLowerCase().endsWith('.mp4')).sort();
      for (const n of listed.others)
        if (n.toLowerCase().endsWith('.mp4'))
          problems.push({
            path: path.join(dir, n),
            reason: 'not a regular file (skipped)',
            kind: 'skipped',
          });
      for (const n of names) {
        const p = path.join(dir, n);
        const clip: LrwClip = { path: p, word, split };
        if (opts.durations !== false) {
          const txt = p.slice(0, -4) + '.txt';
          const text = await readHead(txt);
          if (text === null)
            problems.push({
              path: txt,
              reason: 'missing .txt (clip kept without duration)',
              kind: 'no-duration',
            });
          else {
            const d = parseDuration(text);
            if (d === null)
              problems.push({
                path: txt,
                reason: 'no readable Duration: line (clip kept without duration)',
                kind: 'no-duration',
              });
            else clip.duration = d;
          }
        }
        clips.push(clip);
      }
    }
  }
  if (!clips.length)
    throw new LrwError(`no clips under ${root} (expected ROOT/WORD/{${splits.join(',')}}/*.mp4)`);
  return { root: abs, words, clips, problems };
}
