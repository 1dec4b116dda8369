// LRW index: walk ROOT/WORD/{train,val,test}/*.mp4 and read each clip's `Duration:` line
// (docs/design.md "Data"; the line is searched for, never assumed at a fixed position).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoReason } from '../io/atomic.js';
import { FileReadError, readRegularFile } from '../io/read_bounded.js';

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
  /** 'no-duration': clip kept without a duration; 'skipped': not indexed (odd word name, a word
   *  directory without a clip, a clip that is not a regular file) */
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

/** What a directory holds, as regular files (symlinks followed) and other entries: a FIFO or
 *  device named *.mp4 would block ffmpeg forever. A directory that is not there is empty; one
 *  that cannot be read is an error naming it (its clips would be missing without a word). */
async function listFiles(dir: string): Promise<{ files: string[]; others: string[] }> {
  const files: string[] = [],
    others: string[] = [];
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { files, others };
    throw new LrwError(`cannot read directory ${dir}: ${errnoReason(e)}`);
  }
  for (const e of entries) {
    const regular =
      e.isFile() ||
      (e.isSymbolicLink() && (await fsp.stat(path.join(dir, e.name)).catch(() => null))?.isFile());
    (regular ? files : others).push(e.name);
  }
  return { files, others };
}

const isClipName = (n: string) => n.toLowerCase().endsWith('.mp4');

/** A word directory's name must survive labels.txt (one label per line, # starts a comment). */
const LABEL_NAME = /^[^\s#]+$/u;

/** The .txt is read up to this many bytes (LRW's are ~200; the Duration line is near the top). */
const MAX_TXT_BYTES = 64 << 10;

/** The start of a transcript, or why it cannot be read ("not found", "is a FIFO ..."). */
async function readHead(file: string): Promise<{ text: string } | { problem: FileReadError }> {
  try {
    const b = await readRegularFile(file, MAX_TXT_BYTES, { head: true });
    return { text: b.toString('utf8') };
  } catch (e) {
    if (e instanceof FileReadError) return { problem: e };
    throw e;
  }
}

/**
 * Index an LRW-layout tree. `words` limits the walk to those words (missing ones, and ones
 * without a clip in any split, are an error); `splits` to those splits. Without `words`, the
 * words are the directories holding a clip in some split (others are reported, kind
 * 'skipped'). A directory that cannot be read is an error naming it. Clips are sorted by
 * word, split, file name.
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
  let entries: string[];
  try {
    entries = await fsp.readdir(abs);
  } catch (e) {
    throw new LrwError(`cannot read LRW root ${root}: ${errnoReason(e)}`);
  }
  // each split directory is listed once (the class check and the walk share it)
  const listings = new Map<string, { files: string[]; others: string[] }>();
  const readable = new Set<string>();
  const list = async (word: string, split: Split) => {
    const dir = path.join(abs, word, split);
    let l = listings.get(dir);
    if (!l) {
      // the word directory itself first: a chmod 000 word is named, not its split
      if (!readable.has(word)) {
        await listFiles(path.join(abs, word));
        readable.add(word);
      }
      listings.set(dir, (l = await listFiles(dir)));
    }
    return l;
  };
  const hasClips = async (word: string) => {
    for (const split of SPLITS) if ((await list(word, split)).files.some(isClipName)) return true;
    return false;
  };
  const named: string[] = [];
  const problems: LrwProblem[] = [];
  for (const name of entries.sort()) {
    const s = await fsp.stat(path.join(abs, name)).catch(() => null);
    if (!s?.isDirectory() || name.startsWith('.')) continue;
    if (LABEL_NAME.test(name)) named.push(name);
    else
      problems.push({
        path: path.join(abs, name),
        reason: 'word directory skipped: a label cannot hold whitespace or #',
        kind: 'skipped',
      });
  }
  const list10 = (ws: string[]) =>
    `${ws.slice(0, 10).join(', ')}${ws.length > 10 ? ` (+${ws.length - 10} more)` : ''}`;
  let words: string[] = [];
  if (opts.words) {
    const missing = opts.words.filter((w) => !named.includes(w));
    if (missing.length) throw new LrwError(`words not found under ${root}: ${list10(missing)}`);
    const empty: string[] = [];
    for (const w of opts.words) if (!(await hasClips(w))) empty.push(w);
    if (empty.length)
      throw new LrwError(
        `words with no clips under ${root} (no .mp4 in their train/, val/ or test/): ${list10(empty)}`,
      );
    words = [...opts.words];
  } else {
    // a directory without a clip in any split (an empty word, notes/) is no class: a class
    // that never gets data would still take a place in labels.txt and the output layer
    for (const name of named)
      if (await hasClips(name)) words.push(name);
      else
        problems.push({
          path: path.join(abs, name),
          reason: 'word directory skipped: no .mp4 clip in its train/, val/ or test/',
          kind: 'skipped',
        });
  }
  const splits = opts.splits ?? SPLITS;
  const clips: LrwClip[] = [];
  for (const word of words) {
    for (const split of splits) {
      const dir = path.join(abs, word, split);
      const listed = await list(word, split);
      const names = listed.files.filter(isClipName).sort();
      for (const n of listed.others)
        if (isClipName(n))
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
          const head = await readHead(txt);
          if ('problem' in head)
            problems.push({
              path: txt,
              reason:
                head.problem.code === 'missing'
                  ? 'missing .txt (clip kept without duration)'
                  : `.txt ${head.problem.reason} (clip kept without duration)`,
              kind: 'no-duration',
            });
          else {
            const d = parseDuration(head.text);
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
