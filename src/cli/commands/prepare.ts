// `eflip prepare`: decode an LRW-layout tree once into compact shards (src/data/prepare.ts).
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { atFileInput, guardOutputs } from '../../io/output_path.js';
import { prepare, PREPARE_LIMITS } from '../../data/prepare.js';
import { parseWordsSpec } from '../../data/vocab.js';
import { Progress } from '../../data/progress.js';
import { defaultJobs } from '../../data/pool.js';
import { printable } from '../../io/printable.js';

export const def = defineCommand({
  name: 'prepare',
  usage: 'prepare --lrw ROOT --out DIR [--words ...] [--crop mouth|center|landmarks] [--jobs N]',
  description:
    'Decode ROOT/WORD/{train,val,test}/*.mp4 once into shards (uint8 frames + label + duration + source path). ' +
    'Parallel, resumable (re-running skips finished shards), bad files reported and skipped.',
  options: {
    lrw: { type: 'string', help: 'LRW-layout root' },
    out: { type: 'string', help: 'output directory' },
    words: {
      type: 'string',
      help: 'all, N (first N sorted), random:N[:SEED], A,B,C or @file',
      default: 'all',
    },
    crop: {
      type: 'string',
      help: 'LRW mouth window, centre of the frame, or landmark ROI',
      default: 'mouth',
      choices: ['mouth', 'center', 'landmarks'],
    },
    size: { type: 'int', help: 'stored crop side', default: 96, ...PREPARE_LIMITS.size },
    color: { type: 'boolean', help: 'keep RGB (default grey)' },
    splits: {
      type: 'list',
      help: 'splits to prepare',
      default: ['train', 'val', 'test'],
      choices: ['train', 'val', 'test'],
    },
    'shard-size': {
      type: 'int',
      help: 'clips per shard',
      default: 64,
      ...PREPARE_LIMITS.shardSize,
    },
    landmarks: {
      type: 'string',
      help: 'directory mirroring ROOT with <clip>.landmarks.json (default: beside each clip, else what eflip roi cached)',
    },
    jobs: { type: 'threads', help: 'worker threads (default: CPU count)' },
    json: { type: 'boolean', help: 'print the summary as JSON' },
    quiet: { type: 'boolean', help: 'no progress output' },
  },
  examples: [
    'eflip prepare --lrw /data/lipread_mp4 --out /data/lrw_shards --jobs 16',
    'eflip prepare --lrw /tmp/synth --out /tmp/shards --words 10',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (!o.lrw || !o.out) throw new UsageError('--lrw ROOT and --out DIR are required');
  guardOutputs(
    [{ flag: '--out', path: o.out, kind: 'dir' }],
    [
      { flag: '--lrw', path: o.lrw },
      ...(o.landmarks ? [{ flag: '--landmarks', path: o.landmarks }] : []),
      ...atFileInput('--words', o.words),
    ],
  );
  let bar: Progress | undefined;
  const s = await prepare({
    lrw: o.lrw,
    out: o.out,
    words: await parseWordsSpec(o.words),
    crop: o.crop,
    size: o.size,
    color: !!o.color,
    splits: o.splits,
    shardSize: o['shard-size'],
    landmarks: o.landmarks,
    jobs: o.jobs ?? defaultJobs(),
    onProgress: (d, t) => {
      bar ??= new Progress('prepare', t, process.stderr, !!o.quiet);
      bar.update(d);
    },
  });
  if (o.json) {
    console.log(JSON.stringify(s, null, 1)); // skipped clips and entries with their reasons
    return 0;
  }
  console.log(
    `prepare: ${s.prepared}/${s.clips} clips in ${s.shards} shards (${s.shardsWritten} written now, ${s.shardsReused} already done) → ${s.out} in ${s.seconds.toFixed(1)} s`,
  );
  console.log(
    `labels: ${s.labels.length} words (labels.txt)${s.durationProblems ? `; ${s.durationProblems} transcripts without a readable Duration (clips kept)` : ''}`,
  );
  if (s.skipped.length) {
    console.log(
      `skipped ${s.skipped.length}: ${Object.entries(s.skippedByKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
    for (const k of s.skipped.slice(0, 20)) console.log(`  ${k.kind}: ${printable(k.reason)}`);
    if (s.skipped.length > 20) console.log(`  ... (${s.skipped.length - 20} more in summary.json)`);
  }
  if (s.indexSkipped.length) {
    const n = s.indexSkipped.length;
    console.log(`skipped ${n} entr${n > 1 ? 'ies' : 'y'} under --lrw that are not clips:`);
    for (const k of s.indexSkipped.slice(0, 20)) console.log(`  ${printable(k.path)}: ${k.reason}`);
    if (n > 20) console.log(`  ... (${n - 20} more in summary.json)`);
  }
  return 0;
}
