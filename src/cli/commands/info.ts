// `eflip info` — parameters (total and per part) and multiply-accumulates per clip of a
// variant, a custom config, or the config stored in a model file. Computed from the
// architecture alone: no libtorch needed.
import { readFileSync } from 'node:fs';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import {
  modelConfig,
  VARIANTS,
  type ModelConfig,
  type ModelConfigInput,
} from '../../model/config.js';
import { summarize } from '../../model/summary.js';
import { checkModelHeader } from '../../model/model_file.js';

export const def = defineCommand({
  name: 'info',
  usage:
    'info [--variant T|S|B] [--classes N] [--frames T] [--size S] [--json] | info --model FILE.safetensors',
  description:
    'Parameters (total; front-end, transformer, TCN, head) and multiply-accumulates per clip of a model.',
  options: {
    variant: { type: 'string', help: `named variant (${VARIANTS.join(', ')})`, default: 'T' },
    classes: { type: 'int', help: 'output classes', default: 500 },
    'in-channels': { type: 'int', help: 'input channels (1 grey, 3 colour)', default: 1 },
    config: {
      type: 'string',
      help: 'JSON model config file (ModelConfig keys; overrides --variant/--classes)',
    },
    model: { type: 'string', help: 'read the config from an eflip model file (.safetensors)' },
    frames: { type: 'int', help: 'frames per clip for MACs', default: 29 },
    size: { type: 'int', help: 'input height = width for MACs', default: 88 },
    json: { type: 'boolean', help: 'print JSON' },
  },
  examples: [
    'eflip info --variant T --classes 500',
    'eflip info --variant S --json',
    'eflip info --model runs/x/best.safetensors',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  let cfg: ModelConfig;
  if (p.opts.model) {
    // validated against the stored tensor shapes; no tensor data is read
    cfg = checkModelHeader(p.opts.model).meta.config;
  } else if (p.opts.config) {
    const input = JSON.parse(readFileSync(p.opts.config, 'utf8')) as ModelConfigInput;
    cfg = modelConfig(input);
  } else {
    cfg = modelConfig({
      variant: p.opts.variant,
      classes: p.opts.classes,
      inChannels: p.opts['in-channels'],
    });
  }
  if (p.opts.frames < 1 || p.opts.size < 8)
    throw new UsageError('--frames must be >= 1 and --size >= 8');
  const s = summarize(cfg, p.opts.frames, p.opts.size);
  if (p.opts.json) {
    console.log(
      JSON.stringify({ variant: cfg.variant, classes: cfg.classes, ...s, config: cfg }, null, 2),
    );
    return 0;
  }
  const n = (v: number) => v.toLocaleString('en-US');
  const g = (v: number) => `${(v / 1e9).toFixed(3)} G`;
  const rows: [string, string][] = [
    [
      'variant',
      `${cfg.variant} (${cfg.stages.length} stages, ${cfg.stages.reduce((a, r) => a + r.layers, 0)} blocks), ${cfg.classes} classes, ${cfg.inChannels} input channel(s)`,
    ],
    ...(cfg.attention === 'self'
      ? [
          ['attention', 'self (each frame attends only to itself: the reference at batch 1)'] as [
            string,
            string,
          ],
        ]
      : []),
    ['parameters', n(s.params.total)],
    ['  front-end (3D conv + EfficientNetV2)', n(s.params.frontend)],
    ['  transformer', n(s.params.transformer)],
    ['  TCN', n(s.params.tcn)],
    ['  head', n(s.params.head)],
    ['buffers (BN statistics)', n(s.buffers)],
    [
      `MACs per clip (${s.input.frames}×${s.input.size}×${s.input.size}, conv + linear)`,
      g(s.macs.convLinear),
    ],
    ['  front-end', g(s.macs.frontend)],
    ['  transformer feed-forward', g(s.macs.transformer)],
    ['  TCN', g(s.macs.tcn)],
    ['  head', g(s.macs.head)],
    ['attention (projections + T×T products)', g(s.macs.attention)],
    ['weights size (float32)', `${((s.params.total * 4) / 2 ** 20).toFixed(1)} MiB`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  return 0;
}
