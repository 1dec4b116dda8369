// `eflip eval`: exact metrics of a checkpoint on a data split (src/train/eval_run.ts).
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { guardOutputs } from '../../io/output_path.js';
import { printable } from '../../io/printable.js';

export const def = defineCommand({
  name: 'eval',
  usage: 'eval --checkpoint PATH --data DIR [--split test] [--json] [options]',
  description: [
    'Evaluate a checkpoint (training .ckpt or model .safetensors; EMA weights when present) on a split of',
    'an LRW-layout tree: top-1, top-5, weighted F1/precision/recall, balanced accuracy, per-word accuracy,',
    'the most confused word pairs and the loss — exact counts over every clip, never averages of batch means.',
  ].join('\n'),
  options: {
    checkpoint: { type: 'string', help: 'checkpoint or model file' },
    data: { type: 'string', help: 'LRW-layout root (WORD/{train,val,test}/*.mp4)' },
    split: {
      type: 'string',
      default: 'test',
      choices: ['train', 'val', 'test'],
      help: 'split to evaluate',
    },
    json: {
      type: 'boolean',
      help: 'print JSON (with the confusion matrix) instead of the markdown table',
    },
    markdown: { type: 'string', help: 'also write the markdown report to this file' },
    'batch-size': { type: 'int', default: 16, help: 'clips per batch', min: 1, max: 1024 },
    'no-ema': {
      type: 'boolean',
      help: 'use the raw weights even when the checkpoint has EMA weights',
    },
    limit: {
      type: 'int',
      help: 'evaluate at most this many batches (only their clips are decoded: one of each word in turn)',
      min: 1,
    },
    pairs: { type: 'int', default: 10, help: 'how many confused pairs to list', min: 0, max: 1000 },
    device: {
      type: 'string',
      default: 'cpu',
      help: 'cpu, cuda or cuda:N (cuda needs the addon built against a CUDA libtorch)',
    },
  },
  examples: [
    'eflip eval --checkpoint runs/synth-x/checkpoints/best.ckpt --data data/synth10 --split test',
    'eflip eval --checkpoint assets/demo/model.safetensors --data data/synth10 --json > metrics.json',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (!p.opts.checkpoint) throw new UsageError('--checkpoint PATH is required');
  if (!p.opts.data) throw new UsageError('--data DIR is required');
  if (p.opts.markdown)
    guardOutputs(
      [{ flag: '--markdown', path: p.opts.markdown }],
      [
        { flag: '--checkpoint', path: p.opts.checkpoint },
        { flag: '--data', path: p.opts.data },
      ],
    );
  const { evaluateCheckpoint } = await import('../../train/eval_run.js');
  const { metricsJson, metricsMarkdown } = await import('../../train/metrics.js');
  const r = await evaluateCheckpoint({
    checkpoint: p.opts.checkpoint,
    data: p.opts.data,
    split: p.opts.split,
    batchSize: p.opts['batch-size'],
    useEma: !p.opts['no-ema'],
    limit: p.opts.limit ?? null,
    device: p.opts.device,
    // --json: stdout is the JSON; warnings and notes (skipped clips, a clip cache not usable)
    // still go to stderr, progress does not
    log: (m) => {
      if (!p.opts.json || /^(warning|note):/.test(m)) console.error(m);
    },
    stream: process.stderr,
    quiet: !!p.opts.json,
  });
  const m = r.metrics;
  if (r.incomplete.length) {
    const e = r.incomplete[0];
    console.error(
      `warning: ${r.incomplete.length} clip(s) decoded fewer frames than their container promises (truncated or damaged; evaluated on what decoded), e.g. ${printable(e.path)}: ${e.decoded} of ${e.expected}`,
    );
  }
  const md = metricsMarkdown(m, `${r.split} — ${r.checkpoint} (${r.weights} weights)`);
  if (p.opts.markdown) writeFileAtomic(p.opts.markdown, md);
  if (p.opts.json)
    console.log(
      JSON.stringify(
        {
          checkpoint: r.checkpoint,
          split: r.split,
          weights: r.weights,
          device: r.device,
          seconds: r.seconds,
          incompleteClips: r.incomplete.map((e) => e.path),
          // clips not in the metrics (samples counts the others), and entries that are no clips
          skippedClips: r.skipped,
          skippedEntries: r.indexSkipped,
          ...metricsJson(m, true),
        },
        null,
        2,
      ),
    );
  else console.log(md);
  return 0;
}
