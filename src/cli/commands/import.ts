// `eflip import` — a PyTorch checkpoint (.ckpt/.pt/.pth from torch.save; reference Lightning
// checkpoints or bare state dicts) to an eflip model file. The pickle is read by a restricted
// unpickler that never executes anything; the weights are loaded into the network (shape
// checks) and written with config and labels in the metadata.
import { readFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import { parseOrHelp, UsageError, type CommandDef } from '../args.js';
import { guardOutputs } from '../../io/output_path.js';
import { VARIANTS, modelConfig, type ModelConfigInput } from '../../model/config.js';
import { inferModelConfig } from '../../model/infer_config.js';
import { saveModel } from '../../model/weights.js';
import { resolveLabels } from '../../model/labels.js';
import { LipReaderNet } from '../../model/lipreader.js';
import { readTorchCheckpoint, extractStateDict } from '../../io/torch_checkpoint.js';
import type { RawTensor } from '../../io/safetensors.js';

export const def: CommandDef = {
  name: 'import',
  usage: 'import <checkpoint.ckpt|.pt|.pth> --out FILE.safetensors [--labels seed42|lrw|FILE] [--variant T|S|B]',
  description:
    'Convert a PyTorch checkpoint to an eflip model file. Nothing in the checkpoint is executed. ' +
    'The variant and sizes are inferred from the weights unless given.',
  options: {
    out: { type: 'string', alias: 'o', help: 'output file (.safetensors)' },
    labels: { type: 'string', help: 'class names: seed42 (reference checkpoints), lrw (sorted), or a file (default: seed42 for 500-class Lightning checkpoints, else lrw)' },
    variant: { type: 'string', help: `named variant (${VARIANTS.join(', ')}); default: inferred` },
    config: { type: 'string', help: 'JSON model config file (for custom variants)' },
    prefix: { type: 'string', help: 'key prefix to strip (default: model. or module. when every key has it)' },
    'frontend-maxpool': { type: 'boolean', help: 'the checkpoint was trained with the front-end max-pool (not visible in the weights)' },
    'non-strict': { type: 'boolean', help: 'allow missing keys (left at their initial values)' },
  },
  examples: [
    'eflip import lrw_T.ckpt --out lrw_T.safetensors --labels seed42',
    'eflip import state_dict.pt --out m.safetensors --variant B --labels words.txt',
  ],
};

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (p.positionals.length !== 1) throw new UsageError('give exactly one checkpoint file');
  if (!p.opts.out) throw new UsageError('--out FILE.safetensors is required');
  const src = p.positionals[0];
  if (!existsSync(src)) throw new UsageError(`no such file: ${src}`);
  guardOutputs([{ flag: '--out', path: p.opts.out }], [{ flag: 'CHECKPOINT', path: src }, ...['config', 'labels'].filter((k) => p.opts[k]).map((k) => ({ flag: `--${k}`, path: p.opts[k] }))]);

  const ck = readTorchCheckpoint(src);
  const sd = extractStateDict(ck.root, p.opts.prefix !== undefined ? [p.opts.prefix] : undefined);
  console.log(`${basename(src)}: state dict at '${sd.foundAt}', ${sd.tensors.size} tensors` +
    (sd.strippedPrefix ? `, prefix '${sd.strippedPrefix}' stripped` : '') +
    (Object.keys(sd.info).length ? ` (${Object.entries(sd.info).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''));
  if (sd.skipped.length) console.log(`  skipped ${sd.skipped.length} non-tensor entries: ${sd.skipped.slice(0, 5).join(', ')}`);

  const overrides: ModelConfigInput = p.opts.config ? (JSON.parse(readFileSync(p.opts.config, 'utf8')) as ModelConfigInput) : {};
  if (p.opts.variant) overrides.variant = p.opts.variant;
  if (p.opts['frontend-maxpool']) overrides.frontendMaxPool = true;
  const shapes = new Map([...sd.tensors].map(([k, t]) => [k, { shape: t.shape }]));
  const cfg = p.opts.config ? modelConfig(overrides) : inferModelConfig(shapes, overrides);

  const lightning = sd.foundAt === 'state_dict' && sd.strippedPrefix === 'model.';
  const labelSpec = p.opts.labels ?? (lightning && cfg.classes === 500 ? 'seed42' : 'lrw');
  const labels = resolveLabels(labelSpec, cfg.classes);

  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of sd.tensors) tensors.set(k, t.materialize());
  const model = new LipReaderNet(cfg);
  try {
    const own = new Set(model.stateDict().keys());
    const unexpected = [...tensors.keys()].filter((k) => !own.has(k));
    for (const k of unexpected) tensors.delete(k);
    const report = model.loadStateDict(tensors, { strict: !p.opts['non-strict'] });
    if (unexpected.length) console.log(`  ignored ${unexpected.length} unexpected keys: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', …' : ''}`);
    if (report.missing.length) console.log(`  WARNING ${report.missing.length} missing keys kept their initial values: ${report.missing.slice(0, 8).join(', ')}`);
    if (report.reshaped.length) console.log(`  reshaped ${report.reshaped.length} tensors (size-1 dims): ${report.reshaped.slice(0, 4).join(', ')}`);
    saveModel(p.opts.out, model, {
      labels,
      metadata: { created_by: 'eflip import', source: basename(src), ...(sd.info.epoch ? { source_epoch: sd.info.epoch } : {}) },
    });
  } finally {
    model.dispose();
  }
  console.log(`wrote ${p.opts.out}: variant ${cfg.variant}, ${cfg.classes} classes, labels ${labelSpec}`);
  return 0;
}
