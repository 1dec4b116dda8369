// `eflip train`: train a model from a YAML config plus key=value overrides (src/train/run.ts).
import { parseOrHelp, UsageError, defineCommand, type ParsedOptions } from '../args.js';

export const def = defineCommand({
  name: 'train',
  usage:
    'train [--config FILE.yaml] [--nproc-per-node N [--nnodes M --node-rank K --master-addr HOST --master-port P]] [key=value ...]',
  description: [
    'Train a lipreading model: AdamW + warmup-cosine, EMA, label smoothing, mixup, gradient clipping,',
    'bf16/fp16 autocast, CPU or CUDA (train.device=cuda), early stopping, top-k + last checkpoints (atomic),',
    'metrics.jsonl, an HTML report.',
    'Resume with checkpoint=PATH (a .ckpt or a run dir); fine-tune with pretrained_model_path=PATH.',
    'Ctrl-C saves a resumable checkpoint. Run `eflip train --help-config` for every config key.',
    'Data-parallel: --nproc-per-node N starts N workers on this machine (one per GPU, or a share of the',
    'cores each); workers also run under torchrun or srun unchanged (RANK, WORLD_SIZE, ... in the',
    'environment). train.batch_size is per process. See docs/distributed.md.',
  ].join('\n'),
  options: {
    config: { type: 'string', alias: 'c', help: 'YAML config file (configs/*.yaml)' },
    'print-config': { type: 'boolean', help: 'print the resolved config and exit' },
    'help-config': { type: 'boolean', help: 'list every config key with type, default and help' },
    json: { type: 'boolean', help: 'print a JSON summary at the end' },
    'nproc-per-node': {
      type: 'int',
      help: 'data-parallel: start this many worker processes on this machine and supervise them',
    },
    nnodes: {
      type: 'int',
      default: 1,
      help: 'data-parallel: machines in the job (each runs eflip train --nproc-per-node N --node-rank K)',
    },
    'node-rank': {
      type: 'int',
      default: 0,
      help: 'data-parallel: index of this machine, 0..nnodes-1',
    },
    'master-addr': {
      type: 'string',
      default: '127.0.0.1',
      help: 'data-parallel: host of rank 0 (node 0), reachable from every machine',
    },
    'master-port': {
      type: 'int',
      help: 'data-parallel: rendezvous port on the master host (default: a free port; required with --nnodes > 1)',
    },
  },
  overrides: true,
  examples: [
    'eflip synth --out data/synth --words 10 --train 40 --val 10 --test 10',
    'eflip train --config configs/synth.yaml data.root=data/synth',
    'eflip train --config configs/lrw_T.yaml data.shards=data/lrw_shards train.batch_size=32',
    'eflip train checkpoint=runs/synth-20250101-120000          # resume',
    'eflip train --nproc-per-node 8 --config configs/lrw_T.yaml data.shards=data/lrw_shards train.device=cuda',
    'eflip train --config configs/synth.yaml pretrained_model_path=assets/demo/model.safetensors words=5',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (p.positionals.length)
    throw new UsageError(
      `unexpected argument '${p.positionals[0]}' (config overrides are key=value)`,
    );
  const { configReference, loadConfig, configToYaml, ConfigError } =
    await import('../../train/config.js');
  if (p.opts['help-config']) {
    console.log('Config keys (set in YAML or as key=value):\n' + configReference());
    return 0;
  }
  try {
    if (p.opts['print-config']) {
      console.log(configToYaml(loadConfig({ file: p.opts.config, overrides: p.overrides })));
      return 0;
    }
    const launcherFlags = ['nproc-per-node', 'nnodes', 'node-rank', 'master-addr', 'master-port'];
    if (p.opts['nproc-per-node'] === undefined) {
      const given = launcherFlags.filter((f) =>
        argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)),
      );
      if (given.length)
        throw new UsageError(
          `--${given[0]} needs --nproc-per-node N (the launcher's workers per machine)`,
        );
    } else {
      const { launch, LaunchError } = await import('../../train/launcher.js');
      // the workers get the same training arguments, without the launcher's
      const args = [
        ...(p.opts.config ? ['--config', p.opts.config] : []),
        ...(p.opts.json ? ['--json'] : []),
        ...p.overrides,
      ];
      loadConfig({ file: p.opts.config, overrides: p.overrides }); // refuse a bad config here, once
      try {
        return await launch({
          nprocPerNode: p.opts['nproc-per-node'],
          nnodes: p.opts.nnodes,
          nodeRank: p.opts['node-rank'],
          masterAddr: p.opts['master-addr'],
          masterPort: p.opts['master-port'] ?? null,
          args,
        });
      } catch (e) {
        if (e instanceof LaunchError) throw new UsageError(e.message);
        throw e;
      }
    }
    const { worldFromEnv } = await import('../../train/world.js');
    const world = worldFromEnv();
    return await train(p, world.worldSize > 1 ? world : null);
  } catch (e) {
    const err = e as Error;
    if (err instanceof ConfigError || err.name === 'WorldEnvError')
      throw new UsageError(err.message);
    throw e;
  }
}

/** One training process: alone, or one data-parallel worker (its messages name its rank; it
 *  leaves when the launcher that started it goes away). */
async function train(
  p: { opts: ParsedOptions<typeof def.options>; overrides: string[] },
  world: { rank: number; worldSize: number } | null,
): Promise<number> {
  const who = world ? `eflip train [rank ${world.rank}/${world.worldSize}]` : 'eflip train';
  if (world && process.send && process.env.EFLIP_LAUNCHED) {
    process.channel?.unref();
    process.on('disconnect', () => {
      console.error(`${who}: the launcher went away; stopping`);
      process.exit(1);
    });
  }
  const main = !world || world.rank === 0;
  const { runTraining } = await import('../../train/run.js');
  try {
    const r = await runTraining({ configFile: p.opts.config, overrides: p.overrides });
    if (p.opts.json && main) {
      console.log(
        JSON.stringify(
          {
            runDir: r.runDir,
            steps: r.steps,
            epochs: r.epochs,
            stopReason: r.stopReason,
            bestCheckpoint: r.bestCheckpoint,
            test: r.test
              ? {
                  top1: r.test.top1,
                  top5: r.test.top5,
                  loss: r.test.loss,
                  f1: r.test.f1Weighted,
                  samples: r.test.samples,
                }
              : null,
            report: r.report,
            seconds: r.seconds,
            ...(world ? { worldSize: world.worldSize } : {}),
          },
          null,
          2,
        ),
      );
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    if (err.name === 'ConfigError') throw e;
    if (err.name === 'DataError') {
      const ck = (err as Error & { checkpoint: string | null }).checkpoint;
      console.error(
        `${who}: ${err.message}${ck ? ` (fix the data, then resume with: eflip train checkpoint=${ck})` : ''}`,
      );
      return 1;
    }
    if (err.name === 'InterruptedError') {
      if (main)
        console.error(
          `${who}: ${err.message}\n  resume with: eflip train checkpoint=${(err as any).checkpoint}`,
        );
      return 130;
    }
    if (!world && !['NonFiniteLossError', 'OutOfMemoryError'].includes(err.name)) throw e;
    console.error(`${who}: ${err.message ?? String(e)}`);
    if (process.env.EFLIP_DEBUG) console.error(err.stack);
    return 1;
  }
}
