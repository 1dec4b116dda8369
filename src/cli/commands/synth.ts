// `eflip synth`: write a synthetic LRW-format corpus (src/data/synth).
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { atFileInput, guardOutputs } from '../../io/output_path.js';
import { synthCorpus } from '../../data/synth/index.js';
import { LRW_WORDS } from '../../data/lrw_words.js';
import { parseWordsSpec, selectVocabulary } from '../../data/vocab.js';
import { Progress } from '../../data/progress.js';
import { defaultJobs } from '../../data/pool.js';

export const def = defineCommand({
  name: 'synth',
  usage: 'synth --out ROOT [--words N|LIST] [--train K] [--val K] [--test K] [--seed S]',
  description:
    'Write a synthetic LRW-layout corpus: ROOT/WORD/{train,val,test}/WORD_NNNNN.mp4 (256x256 colour H.264, 25 fps, 29 frames) ' +
    "plus .txt with a Duration: line. Talking faces rendered from each word's phonemes (CMU dictionary) → visemes; " +
    'train/val/test use disjoint speakers; deterministic per seed; re-running with the same parameters resumes ' +
    '(finished clips kept); a non-empty ROOT that is not such a corpus is refused.',
  options: {
    out: { type: 'string', help: 'output root directory' },
    words: {
      type: 'string',
      help: 'N (first N LRW words), random:N[:SEED], A,B,C or @file',
      default: '10',
    },
    train: { type: 'int', help: 'clips per word in train', default: 20 },
    val: { type: 'int', help: 'clips per word in val', default: 5 },
    test: { type: 'int', help: 'clips per word in test', default: 5 },
    seed: { type: 'int', help: 'corpus seed', default: 0 },
    'train-speakers': {
      type: 'int',
      help: 'train speaker pool (small pools let a model memorise speakers)',
      default: 1000,
    },
    'test-speakers': { type: 'int', help: 'val and test speaker pools (each)', default: 200 },
    landmarks: {
      type: 'boolean',
      help: 'also write ground-truth CLIP.landmarks.json (68-point iBUG per frame)',
    },
    jobs: { type: 'threads', help: 'worker threads (default: CPU count)' },
    quiet: { type: 'boolean', help: 'no progress output' },
  },
  examples: [
    'eflip synth --out /tmp/synth --words 10 --train 40 --val 10 --test 10 --seed 1',
    'eflip synth --out /tmp/s2 --words ABOUT,WATER,PEOPLE --train 5',
  ],
});

/** Words from a spec: LRW words for N/random; explicit lists may hold any word. */
export async function synthWords(spec: string): Promise<string[]> {
  const sel = await parseWordsSpec(spec);
  if (sel.kind === 'list') return sel.words.map((w) => w.toUpperCase());
  return selectVocabulary(LRW_WORDS, sel);
}

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (!o.out) throw new UsageError('--out ROOT is required');
  for (const k of ['train', 'val', 'test'] as const)
    if (o[k] < 0) throw new UsageError(`--${k} must be >= 0`);
  guardOutputs([{ flag: '--out', path: o.out, kind: 'dir' }], atFileInput('--words', o.words));
  const words = await synthWords(o.words);
  const total = words.length * (o.train + o.val + o.test);
  const bar = new Progress('synth', total, process.stderr, !!o.quiet);
  const s = await synthCorpus({
    out: o.out,
    words,
    train: o.train,
    val: o.val,
    test: o.test,
    seed: o.seed,
    speakers: { train: o['train-speakers'], val: o['test-speakers'], test: o['test-speakers'] },
    landmarks: !!o.landmarks,
    jobs: o.jobs ?? defaultJobs(),
    onProgress: (d) => bar.update(d),
  });
  console.log(
    `synth: ${s.written} clips written, ${s.skipped} already there, ${s.words.length} words → ${s.root} (${s.seconds.toFixed(1)} s)`,
  );
  return 0;
}
