// `eflip train`: train a model from a YAML config plus key=value overrides (src/train/run.ts).
import { parseOrHelp, UsageError, type CommandDef } from '../args.js';

export const def: CommandDef = {
  name: 'train',
  usage: 'train [--config FILE.yaml] [key=value ...]',
  description: [
    'Train a lipreading model: AdamW + warmup-cosine, EMA, label smoothing, mixup, gradient clipping,',
    'bf16/fp16 autocast, CPU or CUDA (train.device=cuda), early stopping, top-k + last checkpoints (atomic),',
    'metrics.jsonl, an HTML report.',
    'Resume with checkpoint=PATH (a .ckpt or a run dir); fine-tune with pretrained_model_path=PATH.',
    'Ctrl-C saves a resumable checkpoint. Run `eflip train --help-config` for every config key.',
  ].join('\n'),
  options: {
    config: { type: 'string', alias: 'c', help: 'YAML config file (configs/*.yaml)' },
    'print-config': { type: 'boolean', help: 'print the resolved config and exit' },
    'help-config': { type: 'boolean', help: 'list every config key with type, default and help' },
    json: { type: 'boolean', help: 'print a JSON summary at the end' },
  },
  overrides: true,
  examples: [
    'eflip synth --out data/synth --words 10 --train 40 --val 10 --test 10',
    'eflip train --config configs/synth.yaml data.root=data/synth',
    'eflip train --config configs/lrw_T.yaml data.shards=data/lrw_shards train.batch_size=32',
    'eflip train checkpoint=runs/synth-20250101-120000          # resume',
    'eflip train --config configs/synth.yaml pretrained_model_path=assets/demo/model.safetensors words=5',
  ],
};

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}' (config overrides are key=value)`);
  const { configReference, loadConfig, configToYaml, ConfigError } = await import('../../train/config.js');
  if (p.opts['help-config']) {
    console.log('Config keys (set in YAML or as key=value):\n' + configReference());
    return 0;
  }
  try {
    if (p.opts['print-config']) {
      console.log(configToYaml(loadConfig({ file: p.opts.config, overrides: p.overrides })));
      return 0;
    }
    const { runTraining } = await import('../../train/run.js');
    const r = await runTraining({ configFile: p.opts.config, overrides: p.overrides });
    if (p.opts.json) {
      console.log(JSON.stringify({
        runDir: r.runDir, steps: r.steps, epochs: r.epochs, stopReason: r.stopReason, bestCheckpoint: r.bestCheckpoint,
        test: r.test ? { top1: r.test.top1, top5: r.test.top5, loss: r.test.loss, f1: r.test.f1Weighted, samples: r.test.samples } : null,
        report: r.report, seconds: r.seconds,
      }, null, 2));
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    if (err instanceof ConfigError) throw new UsageError(err.message);
    if (['NonFiniteLossError', 'OutOfMemoryError'].includes(err.name)) {
      console.error(`eflip train: ${err.message}`);
      return 1;
    }
    if (err.name === 'DataError') {
      const ck = (err as Error & { checkpoint: string | null }).checkpoint;
      console.error(`eflip train: ${err.message}${ck ? ` (fix the data, then resume with: eflip train checkpoint=${ck})` : ''}`);
      return 1;
    }
    if (err.name === 'InterruptedError') {
      console.error(`eflip train: ${err.message}\n  resume with: eflip train checkpoint=${(err as any).checkpoint}`);
      return 130;
    }
    throw e;
  }
}
