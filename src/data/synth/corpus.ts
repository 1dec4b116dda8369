// Synthetic LRW-format corpus: ROOT/WORD/{train,val,test}/WORD_NNNNN.{mp4,txt}, 256×256
// colour H.264 at 25 fps, 29 frames, `.txt` with a `Duration:` line. Speakers are disjoint
// across splits; everything is a pure function of the seed. Re-running with the same parameters
// (synth.json) skips finished clips; another corpus or a directory of other files is refused.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { mixSeed } from '../rng.js';
import { encodeVideo } from '../video_writer.js';
import { synthClip } from './clip.js';
import { makeSpeaker, splitSpeakerIds } from './speaker.js';
import { runPool } from '../pool.js';
import { writeFileAtomic } from '../../io/atomic.js';
import type { Split } from '../lrw.js';
import { makeDirs } from '../../io/make_dirs.js';
import { printable } from '../../io/printable.js';

export interface SynthCorpusOptions {
  out: string;
  /** words to render (any word the CMU dictionary knows; others get a letter-based guess) */
  words: string[];
  train: number;
  val: number;
  test: number;
  seed?: number;
  /** speaker pool per split (default train 1000, val 200, test 200: nearly every clip a new person, as in LRW) */
  speakers?: Partial<Record<Split, number>>;
  jobs?: number;
  /** also write ground-truth CLIP.landmarks.json (68-point iBUG, per frame) */
  landmarks?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SynthTask {
  word: string;
  split: Split;
  index: number;
  speaker: number;
  seed: number;
  corpusSeed: number;
  mp4: string;
  landmarks?: boolean;
}

export interface SynthSummary {
  root: string;
  words: string[];
  written: number;
  skipped: number;
  seconds: number;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export const DEFAULT_SPEAKERS: Record<Split, number> = { train: 1000, val: 200, test: 200 };

/** LRW-like transcript file. */
export function transcriptText(
  word: string,
  duration: number,
  start: number,
  speaker: number,
  arpabet: string,
): string {
  return [
    `Text:  ${word}`,
    'Conf:  synthetic',
    '',
    'WORD START END ASDSCORE',
    `${word} ${start.toFixed(2)} ${(start + duration).toFixed(2)} 1.0`,
    '',
    `Duration: ${duration.toFixed(2)} seconds`,
    `Speaker: synth-${speaker}`,
    `Phonemes: ${arpabet}`,
    '',
  ].join('\n');
}

/** Render + encode one clip, then write its .txt (the .txt marks the clip complete). */
export async function writeSynthClip(t: SynthTask): Promise<{ duration: number }> {
  const sp = makeSpeaker(t.speaker, t.corpusSeed);
  const c = await synthClip(t.word, sp, t.seed);
  await encodeVideo(t.mp4, c.data, {
    frames: c.frames,
    height: c.height,
    width: c.width,
    channels: 3,
    fps: c.fps,
    crf: sp.crf,
  });
  // atomic writes (io/atomic's temp names, which removeStaleTemps recognises); the .txt last: a
  // clip counts as written once its .txt exists
  if (t.landmarks)
    writeFileAtomic(
      t.mp4.slice(0, -4) + '.landmarks.json',
      JSON.stringify({
        format: 'eflip-synth-landmarks/1',
        source: 'ground truth of eflip synth',
        points: 68,
        landmarks: c.landmarks,
      }),
    );
  writeFileAtomic(
    t.mp4.slice(0, -4) + '.txt',
    transcriptText(t.word, c.duration, c.timing.start, t.speaker, c.arpabet),
  );
  return { duration: c.duration };
}

/** The task list for a corpus (deterministic). */
export function synthTasks(o: SynthCorpusOptions): SynthTask[] {
  const seed = o.seed ?? 0;
  const tasks: SynthTask[] = [];
  const counts: Record<Split, number> = { train: o.train, val: o.val, test: o.test };
  for (const word of o.words) {
    if (!/^[A-Za-z][A-Za-z'-]*$/.test(word)) throw new Error(`synth: '${word}' is not a word`);
    for (const split of ['train', 'val', 'test'] as Split[]) {
      const ids = splitSpeakerIds(split, o.speakers?.[split] ?? DEFAULT_SPEAKERS[split]);
      for (let i = 0; i < counts[split]; i++) {
        const clipSeed = mixSeed(seed, hashString(word), hashString(split), i);
        const speaker = ids[(hashString(word) + i * 7 + (clipSeed & 3)) % ids.length];
        tasks.push({
          word,
          split,
          index: i + 1,
          speaker,
          seed: clipSeed,
          corpusSeed: seed,
          mp4: path.join(o.out, word, split, `${word}_${String(i + 1).padStart(5, '0')}.mp4`),
          landmarks: o.landmarks,
        });
      }
    }
  }
  return tasks;
}

export class SynthError extends Error {
  override name = 'SynthError';
}

/** What synth.json records: every parameter a clip's pixels depend on. */
function synthRecord(o: SynthCorpusOptions): Record<string, unknown> {
  return {
    generator: 'eflip synth',
    seed: o.seed ?? 0,
    words: o.words,
    counts: { train: o.train, val: o.val, test: o.test },
    speakers: { ...DEFAULT_SPEAKERS, ...o.speakers },
    frames: 29,
    fps: 25,
    size: 256,
  };
}

/**
 * `out` may be new, empty, or a corpus this same synth wrote (synth.json records the same
 * parameters): that one is resumed. Anything else is refused before a file is written — a
 * directory of the user's (its files would be replaced where a clip's name falls), or another
 * corpus (a different seed or word list would leave a mix that synth.json misdescribes).
 */
function checkOut(out: string, want: Record<string, unknown>): void {
  const st = statOrNull(out);
  if (!st) return;
  if (!st.isDirectory()) throw new SynthError(`--out ${printable(out)} is a file, not a directory`);
  if (!readdirSync(out).length) return;
  const file = path.join(out, 'synth.json');
  if (!existsSync(file))
    throw new SynthError(
      `--out ${printable(out)} is not empty and holds no eflip synth corpus (no synth.json); use a new or empty directory`,
    );
  let had: Record<string, unknown>;
  try {
    const fst = statSync(file);
    if (!fst.isFile()) throw new Error('not a regular file'); // a FIFO would block the read
    if (fst.size > 1 << 20) throw new Error('over 1 MiB');
    had = JSON.parse(readFileSync(file, 'utf8'));
    if (!had || typeof had !== 'object' || had.generator !== 'eflip synth')
      throw new Error('not a record of eflip synth');
  } catch (e) {
    throw new SynthError(
      `${printable(file)} is not a synth record (${printable((e as Error).message).slice(0, 120)}); use a new or empty --out`,
    );
  }
  const differ = Object.keys(want).filter(
    (k) => JSON.stringify(had[k]) !== JSON.stringify(want[k]),
  );
  if (differ.length) {
    const shown = (v: unknown) => (v === undefined ? 'none' : JSON.stringify(v).slice(0, 80));
    throw new SynthError(
      `--out ${printable(out)} holds another synth corpus (${differ
        .map((k) => `${k} ${shown(had[k])} there, ${shown(want[k])} asked`)
        .join('; ')}); use a new --out, or the same parameters to resume it`,
    );
  }
}

function statOrNull(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Write the corpus (parallel over worker threads). A re-run with the same parameters resumes:
 *  finished clips are skipped; another corpus or a directory of other files is refused. */
export async function synthCorpus(o: SynthCorpusOptions): Promise<SynthSummary> {
  const t0 = Date.now();
  const all = synthTasks(o);
  const record = synthRecord(o);
  checkOut(o.out, record);
  const todo = all.filter(
    (t) =>
      !(
        existsSync(t.mp4) &&
        existsSync(t.mp4.slice(0, -4) + '.txt') &&
        (!t.landmarks || existsSync(t.mp4.slice(0, -4) + '.landmarks.json'))
      ),
  );
  makeDirs(o.out);
  // atomic: a corpus cut mid-write never holds half a synth.json
  writeFileAtomic(path.join(o.out, 'synth.json'), JSON.stringify(record, null, 2) + '\n');
  let done = all.length - todo.length;
  o.onProgress?.(done, all.length);
  const errors: string[] = [];
  const jobs = o.jobs ?? 1;
  if (jobs <= 1) {
    for (const t of todo) {
      await writeSynthClip(t);
      o.onProgress?.(++done, all.length);
    }
  } else {
    await runPool<SynthTask, { duration: number }>(
      new URL('./worker.js', import.meta.url),
      todo,
      (t, _r, err) => {
        if (err) errors.push(`${t.mp4}: ${err}`);
        o.onProgress?.(++done, all.length);
      },
      { jobs },
    );
  }
  if (errors.length)
    throw new Error(`synth: ${errors.length} clip(s) failed:\n${errors.slice(0, 5).join('\n')}`);
  return {
    root: path.resolve(o.out),
    words: [...o.words],
    written: todo.length,
    skipped: all.length - todo.length,
    seconds: (Date.now() - t0) / 1000,
  };
}
