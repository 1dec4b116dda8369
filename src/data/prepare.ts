// `prepare`: decode an LRW-layout tree once into shards (./shard.ts), in parallel, resumably.
//
// OUT/prepare.json   what was prepared (root, labels, crop, size, shard plan) — a re-run with
//                    the same settings skips finished shards; different settings are refused;
//                    readers refuse a split whose planned shards are not all there yet
// OUT/labels.txt     the label list (index = class id)
// OUT/<split>/shard-NNNNN.bin
// OUT/.eflip-prepare.lock  held while a prepare runs: one prepare per --out at a time
// Bad clips (missing, empty, truncated, corrupt, non-video, no landmarks) are recorded in
// their shard's `skipped` list and in the summary; they never abort the run.
import { promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { indexLrw, type LrwClip, type Split, SPLITS } from './lrw.js';
import { selectVocabulary, saveLabels, type VocabSelection } from './vocab.js';
import { readShardHeader } from './shard.js';
import { runPool, defaultJobs } from './pool.js';
import { processAlive, writeFileAtomic } from '../io/atomic.js';
import { lockDir } from '../io/dir_lock.js';
import { makeDirs } from '../io/make_dirs.js';
import { FileReadError, readRegularFile } from '../io/read_bounded.js';

export type CropMode = 'mouth' | 'center' | 'landmarks';

export interface PrepareOptions {
  lrw: string;
  out: string;
  words?: VocabSelection;
  crop?: CropMode;
  /** keep RGB instead of grey (default grey: the network takes one channel) */
  color?: boolean;
  /** stored crop side (default 96; the loader's random crop takes 88 of it) */
  size?: number;
  shardSize?: number;
  jobs?: number;
  splits?: Split[];
  /** directory mirroring the LRW tree with <clip>.landmarks.json files (crop = landmarks); default: beside each clip */
  landmarks?: string;
  onProgress?: (clipsDone: number, clipsTotal: number) => void;
}

export interface PrepareTask {
  file: string;
  split: Split;
  root: string;
  clips: { path: string; label: number; word: string; duration: number | null }[];
  crop: CropMode;
  color: boolean;
  size: number;
  landmarks?: string;
}

export interface PrepareSummary {
  out: string;
  labels: string[];
  clips: number;
  prepared: number;
  skipped: { path: string; reason: string; kind: string }[];
  skippedByKind: Record<string, number>;
  shards: number;
  shardsWritten: number;
  shardsReused: number;
  seconds: number;
  /** transcripts without a readable Duration (clips kept) */
  durationProblems: number;
  /** entries of the tree that are not clips and were left out (lrw.ts problems of kind
   *  'skipped': a word directory with whitespace or #, a *.mp4 that is no regular file) */
  indexSkipped: { path: string; reason: string }[];
}

export class PrepareError extends Error {
  override name = 'PrepareError';
}

interface Manifest {
  version: 1;
  root: string;
  labels: string[];
  crop: CropMode;
  color: boolean;
  size: number;
  fps: number;
  shardSize: number;
  /** per split: clip count, shard files, hash of its (path, label) list */
  plan: Record<string, { clips: number; shards: string[]; hash: string }>;
}

/** Bounds of the stored crop side (pixels) and of clips per shard; `eflip prepare`'s option table takes the same. */
export const PREPARE_LIMITS = {
  size: { min: 8, max: 1024 },
  shardSize: { min: 1, max: 1 << 16 },
} as const;

/** The lock a running prepare holds in its --out (io/dir_lock.ts). */
export const PREPARE_LOCK = '.eflip-prepare.lock';

/** Longest prepare.json read (its plan names every shard: ~25 bytes apiece). */
const MAX_MANIFEST_BYTES = 64 << 20;

/** OUT/prepare.json, or null where there is none; throws an Error whose message says in one
 *  phrase why it is no manifest (not a regular file, too large, not JSON). */
async function readManifest(out: string): Promise<Manifest | null> {
  const file = path.join(out, 'prepare.json');
  let text: string;
  try {
    text = (await readRegularFile(file, MAX_MANIFEST_BYTES)).toString('utf8');
  } catch (e) {
    if (e instanceof FileReadError && e.code === 'missing') return null;
    throw new Error(e instanceof FileReadError ? e.reason : (e as Error).message);
  }
  const m = JSON.parse(text) as Manifest;
  if (!m || typeof m !== 'object') throw new Error('not a JSON object');
  return m;
}

/** A word for a shell command line, quoted where it needs it. */
const shellWord = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The `eflip prepare` command that continues the preparation `m` in `out` (same root, words,
 *  crop, size, colour, shard size and splits: the settings a re-run must repeat). */
function prepareCommand(m: Manifest, out: string): string {
  const a = ['eflip', 'prepare', '--lrw', m.root, '--out', out];
  const labels = Array.isArray(m.labels) ? m.labels : [];
  a.push('--words', labels.length <= 10 ? labels.join(',') : `@${path.join(out, 'labels.txt')}`);
  if (m.crop !== 'mouth') a.push('--crop', String(m.crop));
  if (m.size !== 96) a.push('--size', String(m.size));
  if (m.color) a.push('--color');
  if (m.shardSize !== 64) a.push('--shard-size', String(m.shardSize));
  const splits = Object.keys(m.plan ?? {});
  if (splits.length !== SPLITS.length) a.push('--splits', splits.join(','));
  return a.map(shellWord).join(' ');
}

/**
 * Why split `split` of the preparation in `dir` cannot be read yet: the shards its prepare.json
 * plans that are not there (a prepare that was interrupted or failed), in one line naming them
 * and the command that finishes the preparation; null when every planned shard is there, and
 * for a directory without prepare.json (shards written by other means). A shard file that
 * exists is complete (written under a temporary name, then renamed).
 */
export async function unfinishedPreparation(dir: string, split: string): Promise<string | null> {
  let m: Manifest | null;
  try {
    m = await readManifest(dir);
  } catch (e) {
    return `${path.join(dir, 'prepare.json')} is corrupt (${(e as Error).message}); prepare the data again into a new directory`;
  }
  const shards = m?.plan?.[split]?.shards;
  if (!m || !Array.isArray(shards)) return null;
  const missing = shards.filter((s) => typeof s !== 'string' || !existsSync(path.join(dir, s)));
  if (!missing.length) return null;
  return `${dir} is an unfinished preparation (eflip prepare was interrupted or failed): split '${split}' has ${shards.length - missing.length} of ${shards.length} shards, missing ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (+${missing.length - 3} more)` : ''}; finish it by running the same prepare again: ${prepareCommand(m, dir)}`;
}

export async function prepare(o: PrepareOptions): Promise<PrepareSummary> {
  const t0 = Date.now();
  const crop = o.crop ?? 'mouth',
    color = !!o.color,
    size = o.size ?? 96,
    shardSize = o.shardSize ?? 64;
  const splits = o.splits ?? [...SPLITS];
  const L = PREPARE_LIMITS;
  if (
    !Number.isSafeInteger(shardSize) ||
    shardSize < L.shardSize.min ||
    shardSize > L.shardSize.max
  )
    throw new PrepareError(
      `--shard-size must be an integer from ${L.shardSize.min} to ${L.shardSize.max} clips, got ${shardSize}`,
    );
  if (!Number.isSafeInteger(size) || size < L.size.min || size > L.size.max)
    throw new PrepareError(
      `--size must be an integer from ${L.size.min} to ${L.size.max} pixels, got ${size}`,
    );
  const inside = path.relative(path.resolve(o.lrw), path.resolve(o.out));
  if (!inside.startsWith('..') && !path.isAbsolute(inside))
    throw new PrepareError(
      `--out ${o.out} is inside --lrw ${o.lrw} (its shards would be read as a word); prepare into a directory outside the LRW tree`,
    );
  const probe = await indexLrw(o.lrw, { splits, durations: false });
  const labels = selectVocabulary(probe.words, o.words ?? { kind: 'all' }, o.lrw);
  const idx = await indexLrw(o.lrw, { words: labels, splits });
  const labelOf = new Map(labels.map((w, i) => [w, i]));
  const bySplit = new Map<Split, LrwClip[]>();
  for (const c of idx.clips) {
    if (!bySplit.has(c.split)) bySplit.set(c.split, []);
    bySplit.get(c.split)!.push(c);
  }

  const tasks: PrepareTask[] = [];
  const plan: Manifest['plan'] = {};
  for (const split of splits) {
    const clips = bySplit.get(split) ?? [];
    const shards: string[] = [];
    for (let s = 0; s * shardSize < clips.length; s++) {
      const name = `shard-${String(s).padStart(5, '0')}.bin`;
      shards.push(`${split}/${name}`);
      tasks.push({
        file: path.join(o.out, split, name),
        split,
        root: idx.root,
        crop,
        color,
        size,
        landmarks: o.landmarks,
        clips: clips.slice(s * shardSize, (s + 1) * shardSize).map((c) => ({
          path: c.path,
          label: labelOf.get(c.word)!,
          word: c.word,
          duration: c.duration ?? null,
        })),
      });
    }
    plan[split] = {
      clips: clips.length,
      shards,
      hash: createHash('sha256')
        .update(JSON.stringify(clips.map((c) => [c.path, c.word])))
        .digest('hex'),
    };
  }
  const manifest: Manifest = {
    version: 1,
    root: idx.root,
    labels,
    crop,
    color,
    size,
    fps: 25,
    shardSize,
    plan,
  };

  const mfile = path.join(o.out, 'prepare.json');
  // --out is new, empty, or an earlier preparation (resumed or extended): never a directory of
  // other files, whose labels.txt or shard-*.bin would be overwritten or taken for finished shards
  const outStat = await fsp.stat(o.out).catch(() => null);
  if (outStat && !outStat.isDirectory())
    throw new PrepareError(`--out ${o.out} is a file, not a directory`); // (the CLI's output guard says so first)
  if (outStat && !existsSync(mfile) && (await fsp.readdir(o.out)).some((n) => n !== PREPARE_LOCK)) {
    throw new PrepareError(
      `--out ${o.out} is not empty and holds no eflip preparation (no prepare.json); use a new or empty directory`,
    );
  }
  // one prepare per --out: a second would race on the manifest and on shards (its temp
  // cleanup removed the first's live shard temps); the holder is named (io/dir_lock.ts)
  const release = lockDir(o.out, {
    file: PREPARE_LOCK,
    what: `--out ${o.out}`,
    by: 'eflip prepare',
    instead: 'give another --out',
  });
  try {
    let old: Manifest | null;
    try {
      old = await readManifest(o.out);
    } catch (e) {
      throw new PrepareError(
        `${mfile} is corrupt (${(e as Error).message}); use a new --out (or delete ${o.out} to prepare it again)`,
      );
    }
    if (old) {
      // splits prepared before must match; other splits may be added later
      const sameSplits = Object.entries(plan).every(
        ([k, v]) => !old.plan?.[k] || old.plan[k].hash === v.hash,
      );
      for (const [k, v] of Object.entries(old.plan ?? {})) if (!plan[k]) plan[k] = v;
      const same =
        sameSplits &&
        old.crop === crop &&
        old.color === color &&
        old.size === size &&
        old.shardSize === shardSize &&
        JSON.stringify(old.labels) === JSON.stringify(labels);
      if (!same)
        throw new PrepareError(
          `${o.out} already holds a different preparation (other words, clips, crop or size); use a new --out`,
        );
    }
    // a temp name, then rename: a symlink planted at prepare.json is replaced, never written through
    writeFileAtomic(mfile, JSON.stringify(manifest, null, 1));
    await saveLabels(path.join(o.out, 'labels.txt'), labels);
    for (const split of splits) {
      const dir = path.join(o.out, split);
      makeDirs(dir);
      // shard temps (shard-N.bin.tmp-PID-X) of a run that is gone (kill -9); the lock keeps out
      // another live prepare, and the pid check spares one that runs where no lock could be taken
      for (const n of await fsp.readdir(dir)) {
        const m = /\.tmp-(\d+)-/.exec(n);
        if (m && !processAlive(Number(m[1]))) await fsp.rm(path.join(dir, n), { force: true });
      }
    }

    const done = (t: PrepareTask) => {
      try {
        readShardHeader(t.file);
        return true;
      } catch {
        return false;
      }
    };
    const todo = tasks.filter((t) => !done(t));
    const total = idx.clips.length;
    let clipsDone = tasks.filter((t) => !todo.includes(t)).reduce((a, t) => a + t.clips.length, 0);
    o.onProgress?.(clipsDone, total);
    const failures: string[] = [];
    await runPool<PrepareTask, { records: number }>(
      new URL('./prepare_worker.js', import.meta.url),
      todo,
      (t, _r, err) => {
        if (err) failures.push(`${t.file}: ${err}`);
        clipsDone += t.clips.length;
        o.onProgress?.(clipsDone, total);
      },
      { jobs: o.jobs ?? defaultJobs() },
    );
    if (failures.length)
      throw new PrepareError(
        `prepare: ${failures.length} shard(s) failed (re-run to retry):\n${failures.slice(0, 5).join('\n')}`,
      );

    // summary from every shard (including ones finished by earlier runs)
    const skipped: PrepareSummary['skipped'] = [];
    let prepared = 0;
    for (const t of tasks) {
      const h = readShardHeader(t.file);
      prepared += h.records.length;
      skipped.push(...h.skipped);
    }
    const skippedByKind: Record<string, number> = {};
    for (const s of skipped) skippedByKind[s.kind] = (skippedByKind[s.kind] ?? 0) + 1;
    const summary: PrepareSummary = {
      out: path.resolve(o.out),
      labels,
      clips: total,
      prepared,
      skipped,
      skippedByKind,
      shards: tasks.length,
      shardsWritten: todo.length,
      shardsReused: tasks.length - todo.length,
      seconds: (Date.now() - t0) / 1000,
      durationProblems: idx.problems.filter((p) => p.kind === 'no-duration').length,
      indexSkipped: idx.problems
        .filter((p) => p.kind === 'skipped')
        .map((p) => ({ path: p.path, reason: p.reason })),
    };
    const noDuration = idx.problems
      .filter((p) => p.kind === 'no-duration')
      .map((p) => ({ path: p.path, reason: p.reason }));
    writeFileAtomic(
      path.join(o.out, 'summary.json'),
      JSON.stringify({ ...summary, durationProblemList: noDuration }, null, 1),
    );
    return summary;
  } finally {
    release();
  }
}
