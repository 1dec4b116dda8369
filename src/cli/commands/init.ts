// `eflip init` — a freshly initialised model (PyTorch default initialisations) written as an
// eflip model file: safetensors with the config and labels in its metadata.
import { readFileSync } from 'node:fs';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { guardOutputs } from '../../io/output_path.js';
import { VARIANTS, modelConfig, type ModelConfigInput } from '../../model/config.js';
import { createModel, saveModel } from '../../model/weights.js';
import { resolveLabels } from '../../model/labels.js';
import { summarize } from '../../model/summary.js';

export const def = defineCommand({
  name: 'init',
  usage:
    'init --out FILE.safetensors [--variant T|S|B] [--classes N] [--seed N] [--labels lrw|seed42|FILE]',
  description: 'Write a freshly initialised model (config and labels in the safetensors metadata).',
  options: {
    out: { type: 'string', alias: 'o', help: 'output file (.safetensors)' },
    variant: { type: 'string', help: `named variant (${VARIANTS.join(', ')})`, default: 'T' },
    classes: { type: 'int', help: 'output classes', default: 500 },
    'in-channels': { type: 'int', help: 'input channels (1 grey, 3 colour)', default: 1 },
    config: {
      type: 'string',
      help: 'JSON model config file (ModelConfig keys; overrides --variant/--classes)',
    },
    seed: { type: 'int', help: 'seed of the initialisation', default: 0 },
    labels: {
      type: 'string',
      help: 'class names: lrw (sorted LRW words, first N), seed42 (reference order) or a file with one per line',
      default: 'lrw',
    },
  },
  examples: [
    'eflip init --variant T --classes 500 --out t.safetensors --seed 1',
    'eflip init --config my_variant.json --labels words.txt --out m.safetensors',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (!p.opts.out) throw new UsageError('--out FILE.safetensors is required');
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  guardOutputs(
    [{ flag: '--out', path: p.opts.out }],
    (['config', 'labels'] as const)
      .filter((k) => p.opts[k])
      .map((k) => ({ flag: `--${k}`, path: p.opts[k]! })),
  );
  const cfg = p.opts.config
    ? modelConfig(JSON.parse(readFileSync(p.opts.config, 'utf8')) as ModelConfigInput)
    : modelConfig({
        variant: p.opts.variant,
        classes: p.opts.classes,
        inChannels: p.opts['in-channels'],
      });
  const labels = resolveLabels(p.opts.labels, cfg.classes);
  const model = createModel(cfg, { seed: p.opts.seed });
  try {
    saveModel(p.opts.out, model, {
      labels,
      metadata: { created_by: 'eflip init', seed: String(p.opts.seed) },
    });
  } finally {
    model.dispose();
  }
  const s = summarize(cfg);
  console.log(
    `wrote ${p.opts.out}: variant ${cfg.variant}, ${cfg.classes} classes, ${s.params.total.toLocaleString('en-US')} parameters, seed ${p.opts.seed}`,
  );
  return 0;
}
