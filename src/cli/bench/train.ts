// `eflip bench train`: training clips/s and peak RSS of one optimizer step (forward, NLL,
// backward, AdamW) for a variant at batch 8 on random clips — eflip (TypeScript over libtorch)
// next to the same step in python3-torch, measured in the same run, fp32 and bf16 autocast
// (and fp16 autocast with loss scaling on CUDA), on the CPU or a GPU (--device).
// Layout: by default each side trains as it does by default — eflip with its train.channels_last
// default (channels-last trunk), PyTorch eager as written (contiguous NCHW); --channels-last or
// --contiguous puts both sides on the same layout (the kernel-for-kernel comparison).
// Each measurement runs in its own process so peak RSS is per configuration.
// The headline (default_recipe): eflip's default recipe — train.precision=auto as resolved here
// (bf16 on a CPU with native bfloat16, else fp32) in its default layout — ÷ PyTorch eager fp32
// (the reference's recipe), both from this run.
// --nproc-per-node N: data-parallel scaling instead — N processes (gloo over 127.0.0.1, gradients
// averaged by GradSync overlapped with backward) next to one process, each with --threads
// (default 1) and the same per-process batch; efficiency = N-process clips/s ÷ (N × 1-process).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  parseOrHelp,
  UsageError,
  BENCH_OPTIONS,
  defineCommand,
  type ParsedOptions,
} from '../args.js';
import type { Precision } from '../../train/device_step.js';

export const def = defineCommand({
  name: 'bench train',
  usage:
    'bench train [--json] [--variant T] [--batch 8] [--steps 3] [--device cpu|cuda[:N]] [--nproc-per-node N]',
  description:
    'Training clips/s and peak RSS vs python3-torch on the same machine in the same run (ratio = eflip / PyTorch clips/s), fp32 and bf16 autocast (fp16 + loss scaling too on CUDA), and the headline default_recipe: the default recipe (train.precision=auto as resolved here) ÷ PyTorch eager fp32; with --nproc-per-node N, data-parallel scaling (N processes vs 1).',
  options: {
    ...BENCH_OPTIONS,
    variant: { type: 'string', default: 'T', help: 'model variant' },
    classes: { type: 'int', default: 500, help: 'output classes' },
    batch: { type: 'int', default: 8, help: 'clips per step' },
    frames: { type: 'int', default: 29, help: 'frames per clip' },
    size: { type: 'int', default: 88, help: 'input side' },
    steps: { type: 'int', default: 3, help: 'timed steps' },
    warmup: { type: 'int', default: 1, help: 'untimed steps first' },
    threads: {
      type: 'threads',
      help: 'intra-op threads for both sides (default: libtorch default)',
    },
    rounds: {
      type: 'int',
      default: 2,
      help: "alternate eflip / PyTorch this many times and keep each side's best (noisy shared machines)",
    },
    'no-bf16': { type: 'boolean', help: 'skip the bf16 autocast measurements' },
    device: {
      type: 'string',
      default: 'cpu',
      help: 'cpu, cuda or cuda:N (both sides; cuda adds fp16 with loss scaling)',
    },
    'channels-last': {
      type: 'boolean',
      help: 'channels-last trunk on both sides (default: eflip as train.channels_last defaults, PyTorch contiguous)',
    },
    contiguous: {
      type: 'boolean',
      help: 'contiguous (NCHW) trunk on both sides',
    },
    python: {
      type: 'string',
      default: '/usr/bin/python3',
      help: 'python with torch for the PyTorch side (a CUDA torch for --device cuda)',
    },
    'nproc-per-node': {
      type: 'int',
      help: 'data-parallel scaling on the CPU: N processes (gloo, --threads each, default 1) vs 1 process, same per-process batch',
    },
    inner: {
      type: 'string',
      choices: ['fp32', 'bf16', 'fp16', 'ddp'],
      help: '(internal) run one eflip measurement',
    },
  },
});

type Options = ParsedOptions<typeof def.options>;

interface Measure {
  clips_per_s: number;
  step_ms: number;
  /** process CPU time per timed step (all threads): less sensitive to other load than step_ms */
  cpu_ms_per_step: number;
  peak_rss_mb: number;
  losses: number[];
  threads: number;
  /** a GPU run: the device and its memory in use */
  device?: string;
  gpu_used_mb?: number;
}

/** One precision's result: both sides and their ratios, or why eflip's side failed. */
type ModeResult =
  | {
      eflip: Measure;
      pytorch: Measure | { error: string };
      ratio: number | null;
      rss_ratio: number | null;
    }
  | { error: string };

/** eflip's default recipe ÷ PyTorch eager fp32 (the headline), or why it is missing. */
type DefaultRecipe = { precision: Precision; layout: string } & (
  | {
      eflip_clips_per_s: number;
      pytorch_fp32_clips_per_s: number;
      ratio: number;
    }
  | { error: string }
);

/** The data-parallel measurement of one process group (printed by rank 0). */
interface DdpMeasure {
  processes: number;
  clips_per_s: number;
  step_ms: number;
  threads: number;
  buckets: number;
  buckets_started_during_backward: number;
  peak_rss_mb: number;
}

async function inner(o: Options, mode: Precision): Promise<void> {
  const { randn, randint, setNumThreads, getNumThreads, F, tidy, manualSeed, cuda } =
    await import('../../engine/index.js');
  const { TrainDevice } = await import('../../train/device_step.js');
  const { modelConfig } = await import('../../model/config.js');
  const { createModel } = await import('../../model/weights.js');
  const { AdamW } = await import('../../train/adamw.js');
  if (o.threads) setNumThreads(o.threads);
  manualSeed(0);
  const dev = new TrainDevice(o.device, mode);
  const net = createModel(modelConfig({ variant: o.variant, classes: o.classes }));
  if (dev.device !== 'cpu') net.to(dev.device);
  if (o['channels-last']) net.useChannelsLast(true);
  net.train(true);
  const opt = new AdamW(
    [...net.namedParameters()].map(([name, param]) => ({ name, param })),
    { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-8, weightDecay: 5e-4, noDecayNormBias: false },
  );
  const x = randn([o.batch, 1, o.frames, o.size, o.size], { device: dev.device });
  const y = randint(0, o.classes, [o.batch], { device: dev.device });
  const step = () =>
    tidy(() => {
      const out = dev.autocast(() => net.forward(x)).float();
      const loss = F.nllLoss(out, y);
      const scaler = dev.scaler;
      (scaler ? scaler.scaleLoss(loss) : loss).backward();
      const finite = scaler
        ? scaler.unscale(
            net
              .parameters()
              .map((p) => p.grad)
              .filter((g) => g !== null),
          )
        : true;
      if (finite) opt.step(1e-4);
      scaler?.update(finite);
      opt.zeroGrad();
      return loss.item(); // waits for the device: the step is done
    });
  for (let i = 0; i < o.warmup; i++) step();
  const losses: number[] = [];
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < o.steps; i++) losses.push(step());
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  const m: Measure = {
    clips_per_s: (o.batch * o.steps) / dt,
    step_ms: (1000 * dt) / o.steps,
    cpu_ms_per_step: (c1.user + c1.system) / 1000 / o.steps,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    losses,
    threads: getNumThreads(),
    ...(dev.device !== 'cpu'
      ? {
          device: dev.device,
          gpu_used_mb: cuda.memInfo(Number(dev.device.split(':')[1])).used / 2 ** 20,
        }
      : {}),
  };
  console.log(JSON.stringify(m));
}

/** One rank of the data-parallel measurement (RANK, WORLD_SIZE, MASTER_* in the environment). */
async function innerDdp(o: Options): Promise<void> {
  const { randn, randint, setNumThreads, getNumThreads, F, tidy, manualSeed } =
    await import('../../engine/index.js');
  const { ProcessGroup, GradSync } = await import('../../engine/distributed.js');
  const { worldFromEnv } = await import('../../train/world.js');
  const { modelConfig } = await import('../../model/config.js');
  const { createModel } = await import('../../model/weights.js');
  const { AdamW } = await import('../../train/adamw.js');
  const w = worldFromEnv();
  setNumThreads(o.threads ?? 1);
  const pg = ProcessGroup.init({
    backend: 'gloo',
    rank: w.rank,
    worldSize: w.worldSize,
    masterAddr: w.masterAddr,
    masterPort: w.masterPort,
    timeoutMs: 300_000,
  });
  manualSeed(0);
  const net = createModel(modelConfig({ variant: o.variant, classes: o.classes }));
  net.train(true);
  const params = [...net.namedParameters()];
  pg.broadcast([...net.stateDict().values()], 0);
  const gs = new GradSync(
    pg,
    params.map(([, p]) => p),
    { bucketMB: 25 },
  );
  const opt = new AdamW(
    params.map(([name, param]) => ({ name, param })),
    { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-8, weightDecay: 5e-4, noDecayNormBias: false },
  );
  manualSeed(1 + w.rank);
  const x = randn([o.batch, 1, o.frames, o.size, o.size]);
  const y = randint(0, o.classes, [o.batch]);
  let during = 0;
  const step = () =>
    tidy(() => {
      const loss = F.nllLoss(net.forward(x).float(), y);
      gs.prepare();
      loss.backward();
      during += gs.finish().bucketsDuringBackward;
      opt.step(1e-4);
      opt.zeroGrad();
      return loss.item();
    });
  for (let i = 0; i < o.warmup; i++) step();
  during = 0;
  pg.barrier();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < o.steps; i++) step();
  pg.barrier();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (w.rank === 0) {
    console.log(
      JSON.stringify({
        processes: w.worldSize,
        clips_per_s: (o.batch * w.worldSize * o.steps) / dt,
        step_ms: (1000 * dt) / o.steps,
        threads: getNumThreads(),
        buckets: gs.bucketCount,
        buckets_started_during_backward: during / o.steps,
        peak_rss_mb: process.resourceUsage().maxRSS / 1024,
      }),
    );
  }
  gs.dispose();
  pg.dispose();
}

/** The options that size one timed step, passed on to each measuring child process. */
function stepArgs(o: Options): string[] {
  return [
    '--variant',
    o.variant,
    '--classes',
    String(o.classes),
    '--batch',
    String(o.batch),
    '--frames',
    String(o.frames),
    '--size',
    String(o.size),
    '--steps',
    String(o.steps),
    '--warmup',
    String(o.warmup),
  ];
}

/** N data-parallel processes vs one, same per-process batch and threads. */
async function scaling(o: Options): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { freePort } = await import('../../train/launcher.js');
  const N = o['nproc-per-node'];
  if (N === undefined || !Number.isInteger(N) || N < 1 || N > 64)
    throw new UsageError(`--nproc-per-node expects an integer in 1..64, got ${N}`);
  const bin = fileURLToPath(new URL('../../../../bin/eflip.js', import.meta.url));
  const threads = o.threads ?? 1;
  const common = [...stepArgs(o), '--threads', String(threads)];
  const log = (m: string) => {
    if (!o.json) console.error(m);
  };
  const env0 = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        ![
          'RANK',
          'WORLD_SIZE',
          'LOCAL_RANK',
          'LOCAL_WORLD_SIZE',
          'MASTER_ADDR',
          'MASTER_PORT',
        ].includes(k),
    ),
  );
  const runDdp = async (n: number): Promise<DdpMeasure> => {
    const port = await freePort();
    const outs = await Promise.all(
      Array.from(
        { length: n },
        (_, r) =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            const c = spawn(
              process.execPath,
              [bin, 'bench', 'train', ...common, '--inner', 'ddp'],
              {
                env: {
                  ...env0,
                  RANK: String(r),
                  LOCAL_RANK: String(r),
                  WORLD_SIZE: String(n),
                  LOCAL_WORLD_SIZE: String(n),
                  MASTER_ADDR: '127.0.0.1',
                  MASTER_PORT: String(port),
                  OMP_NUM_THREADS: String(threads),
                },
                stdio: ['ignore', 'pipe', 'pipe'],
              },
            );
            let out = '',
              err = '';
            c.stdout.on('data', (d) => {
              out += d;
            });
            c.stderr.on('data', (d) => {
              err += d;
            });
            c.on('exit', (code) => resolve({ code, out, err }));
          }),
      ),
    );
    const bad = outs.findIndex((r) => r.code !== 0);
    if (bad >= 0)
      throw new Error(
        `data-parallel measurement with ${n} processes failed on rank ${bad}: ${outs[bad].err.trim().split('\n').slice(-2).join(' | ')}`,
      );
    return lastJson<DdpMeasure>(outs[0].out);
  };
  let single: DdpMeasure | null = null,
    multi: DdpMeasure | null = null;
  for (let r = 0; r < Math.max(1, o.rounds); r++) {
    log(`round ${r + 1}: 1 process × ${threads} thread${threads > 1 ? 's' : ''} ...`);
    const a = await runDdp(1);
    if (!single || a.clips_per_s > single.clips_per_s) single = a;
    log(`round ${r + 1}: ${N} processes × ${threads} thread${threads > 1 ? 's' : ''} ...`);
    const b = await runDdp(N);
    if (!multi || b.clips_per_s > multi.clips_per_s) multi = b;
  }
  if (!single || !multi) throw new Error('bench train: no data-parallel round ran'); // rounds ≥ 1
  const efficiency = multi.clips_per_s / (N * single.clips_per_s);
  const out = {
    variant: o.variant,
    classes: o.classes,
    batch_per_process: o.batch,
    input: [1, o.frames, o.size, o.size],
    steps: o.steps,
    rounds: o.rounds,
    threads_per_process: threads,
    cores: (await import('node:os')).availableParallelism(),
    single,
    data_parallel: multi,
    speedup: multi.clips_per_s / single.clips_per_s,
    scaling_efficiency: efficiency,
  };
  if (o.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(
      `bench train: variant ${o.variant}, batch ${o.batch} per process, ${threads} thread(s) per process, gloo on 127.0.0.1`,
    );
    console.log(
      `  1 process:   ${single.clips_per_s.toFixed(2)} clips/s (${single.step_ms.toFixed(0)} ms/step)`,
    );
    console.log(
      `  ${N} processes: ${multi.clips_per_s.toFixed(2)} clips/s (${multi.step_ms.toFixed(0)} ms/step, ${multi.buckets} gradient buckets, ${multi.buckets_started_during_backward.toFixed(1)} started during backward)`,
    );
    console.log(
      `  speedup ${out.speedup.toFixed(2)}×, scaling efficiency ${(100 * efficiency).toFixed(0)} %`,
    );
  }
  return 0;
}

function lastJson<T>(text: string): T {
  const line = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line) throw new Error(`no JSON result in output:\n${text.slice(-2000)}`);
  return JSON.parse(line) as T;
}

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (o.inner === 'ddp') {
    await innerDdp(o);
    return 0;
  }
  if (o.inner) {
    await inner(o, o.inner);
    return 0;
  }
  if (o['nproc-per-node'] !== undefined) return await scaling(o);
  const bin = fileURLToPath(new URL('../../../../bin/eflip.js', import.meta.url));
  const py = fileURLToPath(new URL('../../../../tools/torch_ref/train_step.py', import.meta.url));
  const { checkTrainDevice, resolvePrecision } = await import('../../train/device_step.js');
  const device = checkTrainDevice({ train: { device: o.device, precision: 'fp32' } as never }); // one-line refusal before any measurement
  if (o['channels-last'] && o.contiguous)
    throw new UsageError('--channels-last and --contiguous exclude each other: pick one layout');
  const { defaultConfig } = await import('../../train/config.js');
  const layout = {
    eflip:
      o['channels-last'] || (!o.contiguous && defaultConfig().train.channels_last)
        ? 'channels_last'
        : 'contiguous',
    pytorch: o['channels-last'] ? 'channels_last' : 'contiguous',
  };
  const common = [
    '--device',
    device,
    ...stepArgs(o),
    ...(o.threads ? ['--threads', String(o.threads)] : []),
  ];
  const modes: Precision[] = o['no-bf16']
    ? ['fp32']
    : device === 'cpu'
      ? ['fp32', 'bf16']
      : ['fp32', 'bf16', 'fp16'];
  const results: Partial<Record<Precision, ModeResult>> = {};
  const log = (m: string) => {
    if (!o.json) console.error(m);
  };
  const best = (a: Measure | null, b: Measure | null) =>
    !a
      ? b
      : !b
        ? a
        : b.clips_per_s > a.clips_per_s
          ? { ...b, peak_rss_mb: Math.max(a.peak_rss_mb, b.peak_rss_mb) }
          : { ...a, peak_rss_mb: Math.max(a.peak_rss_mb, b.peak_rss_mb) };
  for (const mode of modes) {
    let ours: Measure | null = null,
      torch: Measure | null = null;
    let oursErr = '',
      torchErr = '';
    for (let r = 0; r < Math.max(1, o.rounds); r++) {
      log(`[${mode}] round ${r + 1}: eflip ...`);
      const eflipArgs = [
        ...common,
        ...(layout.eflip === 'channels_last' ? ['--channels-last'] : []),
      ];
      const e = spawnSync(
        process.execPath,
        [bin, 'bench', 'train', ...eflipArgs, '--inner', mode],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 24,
        },
      );
      if (e.status === 0) ours = best(ours, lastJson<Measure>(e.stdout));
      else oursErr = e.stderr.trim().split('\n').slice(-3).join(' | ');
      if (!ours) break;
      log(`[${mode}] round ${r + 1}: python3-torch ...`);
      const torchArgs = [
        ...common,
        ...(layout.pytorch === 'channels_last' ? ['--channels-last'] : []),
        ...(mode === 'fp32' ? [] : [`--${mode}`]),
      ];
      const t = spawnSync(o.python, [py, ...torchArgs], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (t.status === 0) torch = best(torch, lastJson<Measure>(t.stdout));
      else torchErr = t.stderr.slice(-500);
    }
    if (!ours) {
      if (mode === 'fp32') throw new Error(`eflip fp32 measurement failed: ${oursErr}`);
      results[mode] = { error: `eflip ${mode} failed: ${oursErr}` };
      log(`[${mode}] eflip failed: ${oursErr}`);
      continue;
    }
    results[mode] = {
      eflip: ours,
      pytorch: torch ?? { error: torchErr },
      ratio: torch ? ours.clips_per_s / torch.clips_per_s : null,
      rss_ratio: torch ? ours.peak_rss_mb / torch.peak_rss_mb : null,
    };
  }
  // the headline: eflip's default recipe (train.precision's default as a run here resolves it, in
  // the layout measured) ÷ the reference's recipe (PyTorch eager fp32), from this run
  const precision = resolvePrecision(defaultConfig().train.precision, device);
  const mine = results[precision];
  const refFp32 = results.fp32 && 'eflip' in results.fp32 ? results.fp32.pytorch : null;
  const default_recipe: DefaultRecipe =
    mine && 'eflip' in mine && refFp32 && 'clips_per_s' in refFp32
      ? {
          precision,
          layout: layout.eflip,
          eflip_clips_per_s: mine.eflip.clips_per_s,
          pytorch_fp32_clips_per_s: refFp32.clips_per_s,
          ratio: mine.eflip.clips_per_s / refFp32.clips_per_s,
        }
      : {
          precision,
          layout: layout.eflip,
          error: !mine
            ? `eflip ${precision} not measured (--no-bf16)`
            : 'eflip' in mine
              ? 'the PyTorch fp32 measurement failed'
              : mine.error,
        };
  const out = {
    device,
    default_recipe,
    channels_last: layout.eflip === 'channels_last' && layout.pytorch === 'channels_last',
    layout,
    variant: o.variant,
    classes: o.classes,
    batch: o.batch,
    input: [1, o.frames, o.size, o.size],
    steps: o.steps,
    rounds: o.rounds,
    ...results,
  };
  if (o.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(
      `bench train: ${device}, variant ${o.variant}, batch ${o.batch}, ${o.frames}×${o.size}×${o.size}, ${o.steps} timed steps; trunk layout eflip ${layout.eflip}, pytorch ${layout.pytorch}`,
    );
    for (const mode of modes) {
      const r = results[mode];
      if (!r) continue;
      if (!('eflip' in r)) {
        console.log(`  ${mode}: ${r.error}`);
        continue;
      }
      const pt =
        'clips_per_s' in r.pytorch
          ? `${r.pytorch.clips_per_s.toFixed(2)} clips/s, ${r.pytorch.peak_rss_mb.toFixed(0)} MB`
          : 'failed';
      console.log(
        `  ${mode}: eflip ${r.eflip.clips_per_s.toFixed(2)} clips/s, ${r.eflip.peak_rss_mb.toFixed(0)} MB | pytorch ${pt} | ratio ${r.ratio?.toFixed(3) ?? 'n/a'}`,
      );
    }
    console.log(
      'ratio' in default_recipe
        ? `  default recipe (train.precision=auto → ${precision}, ${layout.eflip}) vs PyTorch eager fp32: ${default_recipe.eflip_clips_per_s.toFixed(2)} vs ${default_recipe.pytorch_fp32_clips_per_s.toFixed(2)} clips/s, ratio ${default_recipe.ratio.toFixed(3)}`
        : `  default recipe (${precision}): ${default_recipe.error}`,
    );
  }
  return 0;
}
