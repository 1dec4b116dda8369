// One training run end to end — what `eflip train` (and `eflip demo --retrain`) call:
// config → run dir → data → model (fresh, fine-tuned or resumed) → fit → test with the best
// checkpoint → metrics files and the HTML report.
import { existsSync, statSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { setNumThreads, getNumThreads } from '../engine/index.js';
import { copyFileAtomic, removeStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { canonicalPath, guardOutputs, type NamedPath } from '../io/output_path.js';
import { EarlyStopping, ModelCheckpoint, type Callback } from './callbacks.js';
import { readCheckpoint, type CheckpointContent } from './checkpoint.js';
import { checkTensorsMatchConfig } from '../model/model_metadata.js';
import {
  applyOverride,
  checkThreadCounts,
  configToYaml,
  ConfigError,
  loadConfig,
  type TrainConfig,
} from './config.js';
import {
  imageChannels,
  loadLrwSplits,
  MemoryClipSource,
  mixupHook,
  type SourceOptions,
} from './data_source.js';
import { metricsJson, metricsMarkdown, type EvalMetrics } from './metrics.js';
import { modelConfigFor } from './model_config.js';
import { MetricsLog } from './metrics_log.js';
import { asTrainable, loadPretrained, placeModel } from './model_io.js';
import { createModel } from '../model/weights.js';
import {
  autoPrecisionLine,
  checkTrainDevice,
  resolvePrecision,
  TrainDevice,
  type Precision,
} from './device_step.js';
import type { LipReaderNet } from '../model/lipreader.js';
import { writeRunReport } from './report.js';
import { Trainer, type FitResult } from './trainer.js';
import type { BatchSource } from './batch_source.js';
import { openShardSource } from './loader_source.js';
import { MissingSplitError } from '../data/dataset.js';
import { worldFromEnv } from './world.js';
import { DistributedRun } from './distributed_run.js';
import { replicaTensors, sinkStream } from './distributed_model.js';
import { setSyncBatchNorm } from '../nn/index.js';
import { makeDirs } from '../io/make_dirs.js';
import { lockRunDir } from './run_lock.js';

export interface RunOptions {
  /** YAML config file */
  configFile?: string;
  /** `key=value` overrides */
  overrides?: string[];
  log?: (msg: string) => void;
  stream?: NodeJS.WriteStream;
}

export interface RunResult extends FitResult {
  runDir: string;
  config: TrainConfig;
  labels: string[];
  bestCheckpoint: string | null;
  test?: EvalMetrics;
  report: string;
  seconds: number;
}

/** The .ckpt files of a run or checkpoint dir, newest first. */
function checkpointFiles(dir: string): string[] {
  const out: { file: string; mtime: number }[] = [];
  for (const d of [dir, join(dir, 'checkpoints')]) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names)
      if (n.endsWith('.ckpt') && !n.startsWith('.'))
        out.push({ file: join(d, n), mtime: statSync(join(d, n)).mtimeMs });
  }
  return out.sort((a, b) => b.mtime - a.mtime).map((c) => c.file);
}

/** A checkpoint path from `checkpoint=` (a file, or a run/checkpoint dir holding last.ckpt). */
export function resolveCheckpointPath(p: string): string {
  if (existsSync(p) && statSync(p).isDirectory()) {
    for (const c of [join(p, 'last.ckpt'), join(p, 'checkpoints', 'last.ckpt')])
      if (existsSync(c)) return c;
    // no last.ckpt (stopped before its first one, or a full disk kept it from being written):
    // the newest other checkpoint is named, or that there is none
    const others = checkpointFiles(p);
    throw new Error(
      others.length
        ? `no last.ckpt under ${p}; its newest checkpoint is ${others[0]} (resume from it with checkpoint=${others[0]})`
        : `no checkpoint under ${p}: that run stopped before it wrote one, so there is nothing to resume; start it again in a new run_dir (or delete ${p})`,
    );
  }
  if (!existsSync(p)) throw new Error(`checkpoint not found: ${p}`);
  return p;
}

/** Prepared shards must hold the frames the network takes: grey for model.in_channels=1, RGB for 3. */
export function checkShardChannels(
  cfg: TrainConfig,
  shardChannels: number,
  modelChannels: number,
  split = 'train',
): void {
  if (shardChannels === modelChannels) return;
  const kind = (c: number) =>
    c === 3 ? 'colour (RGB, 3 channels)' : c === 1 ? 'grey (1 channel)' : `${c}-channel`;
  const fix =
    shardChannels === 3
      ? `set model.in_channels=3 to train on colour, or prepare grey shards (eflip prepare without --color)`
      : `set model.in_channels=${shardChannels}, or prepare colour shards with eflip prepare --color`;
  throw new Error(
    `data.shards=${cfg.data.shards} (${split}) holds ${kind(shardChannels)} clips but model.in_channels=${cfg.model.in_channels} expects ${kind(modelChannels)} input: ${fix}`,
  );
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

/** What of a finished or running run a directory holds (metrics.jsonl, *.ckpt), empty when none. */
function runContents(runDir: string, ckptDir: string): string[] {
  const held: string[] = [];
  if (existsSync(join(runDir, 'metrics.jsonl'))) held.push('metrics.jsonl');
  try {
    const ckpts = readdirSync(ckptDir).filter((f) => f.endsWith('.ckpt'));
    if (ckpts.length) held.push(ckpts.length === 1 ? ckpts[0] : `${ckpts.length} checkpoints`);
  } catch {
    /* no checkpoint dir yet */
  }
  return held;
}

export interface RunDirs {
  runDir: string;
  ckptDir: string;
  /** resumed: the run dir the checkpoint was found in */
  sourceRunDir: string | null;
  sourceCkptDir: string | null;
}

/**
 * Where a run writes. Fresh: run_dir (default runs/<config>-<timestamp>, never an existing
 * one) and checkpointing.dir (default <run_dir>/checkpoints). Resumed: the run the checkpoint
 * was found in (DIR/checkpoints/X.ckpt → DIR; a checkpoint elsewhere → its own directory), or
 * run_dir= given now — never the run dir recorded inside the checkpoint, so resuming a copy of
 * a run never writes into the original. Refuses (before any training) a fresh run into a
 * directory that holds a run, a directory that is a file or read-only, and a run dir that is
 * one of the run's inputs.
 */
export function resolveRunDirs(
  cfg: TrainConfig,
  resumePath: string | null,
  configFile?: string,
): RunDirs {
  let runDir: string, ckptDir: string;
  let sourceRunDir: string | null = null,
    sourceCkptDir: string | null = null;
  if (resumePath) {
    sourceCkptDir = dirname(resolve(resumePath));
    sourceRunDir =
      basename(sourceCkptDir) === 'checkpoints' ? dirname(sourceCkptDir) : sourceCkptDir;
  }
  if (cfg.run_dir) runDir = resolve(cfg.run_dir);
  else if (sourceRunDir) runDir = sourceRunDir;
  else {
    const base = join(
      'runs',
      `${configFile ? basename(configFile).replace(/\.ya?ml$/, '') : 'run'}-${timestamp()}`,
    );
    runDir = resolve(base);
    for (let k = 2; existsSync(runDir); k++) runDir = resolve(`${base}-${k}`);
  }
  if (cfg.checkpointing.dir) ckptDir = resolve(cfg.checkpointing.dir);
  else if (sourceRunDir && runDir === sourceRunDir) ckptDir = sourceCkptDir!;
  else ckptDir = join(runDir, 'checkpoints');

  const inputs: NamedPath[] = [];
  if (cfg.data.root) inputs.push({ flag: 'data.root', path: cfg.data.root });
  if (cfg.data.shards) inputs.push({ flag: 'data.shards', path: cfg.data.shards });
  if (cfg.pretrained_model_path)
    inputs.push({ flag: 'pretrained_model_path', path: cfg.pretrained_model_path });
  guardOutputs([{ flag: 'run_dir', path: runDir, kind: 'dir' }], inputs);
  if (ckptDir !== runDir)
    guardOutputs([{ flag: 'checkpointing.dir', path: ckptDir, kind: 'dir' }], inputs);

  const continuing = sourceRunDir !== null && canonicalPath(runDir) === canonicalPath(sourceRunDir);
  const held = continuing ? [] : runContents(runDir, ckptDir);
  if (held.length) {
    throw new Error(
      checkpointFiles(runDir).length
        ? `run_dir ${runDir} already holds a run (${held.join(', ')}); resume it with checkpoint=${runDir}, or give a new run_dir=DIR (or delete it first)`
        : `run_dir ${runDir} holds a run that stopped before its first checkpoint (${held.join(', ')}): nothing to resume; give a new run_dir=DIR, or delete it first`,
    );
  }
  return { runDir, ckptDir, sourceRunDir, sourceCkptDir };
}

/**
 * A resumed run keeps its checkpoint's classes: the word selection cannot change (it was written
 * into config.yaml while the run went on with the checkpoint's labels). A new vocabulary is a
 * fine-tune: pretrained_model_path=CKPT in a new run.
 */
function refuseVocabularyChange(
  was: TrainConfig['data'],
  classes: number,
  cfg: TrainConfig,
  path: string,
): void {
  for (const key of ['words', 'words_select', 'words_list'] as const) {
    if (JSON.stringify(cfg.data[key]) === JSON.stringify(was[key])) continue;
    throw new ConfigError(
      `data.${key} cannot change when resuming (${path} was trained on ${classes} words with data.${key}=${JSON.stringify(was[key])}); to train on other words, fine-tune in a new run: pretrained_model_path=${path}`,
    );
  }
}

export async function runTraining(opts: RunOptions): Promise<RunResult> {
  const world = worldFromEnv();
  let cfg = loadConfig({ file: opts.configFile, overrides: opts.overrides });
  let resume: CheckpointContent | null = null;
  let resumePath: string | null = null;
  if (cfg.checkpoint) {
    resumePath = resolveCheckpointPath(cfg.checkpoint);
    resume = readCheckpoint(resumePath);
    // the run continues with its own config; command-line overrides still apply on top. Where it
    // writes is decided now (resolveRunDirs), never by the directories recorded in the checkpoint.
    // A copy: resume.trainConfig stays the config that wrote the checkpoint (restore checks the
    // train_state against it and maps a changed batch size from it).
    cfg = structuredClone(resume.trainConfig);
    cfg.run_dir = null;
    cfg.checkpointing.dir = null;
    for (const o of opts.overrides ?? []) applyOverride(cfg, o);
    refuseVocabularyChange(resume.trainConfig.data, resume.labels.length, cfg, resumePath);
    cfg.checkpoint = resumePath;
    checkThreadCounts(cfg);
  }
  // data-parallel (RANK/WORLD_SIZE or SLURM in the environment): rendezvous first (NCCL for a
  // CUDA run, Gloo on the CPU), so a rank that fails below fails the collectives of the others
  // instead of leaving them waiting
  let dist: DistributedRun | null = null;
  if (world.worldSize > 1) {
    checkTrainDevice(cfg); // a device this build cannot use is refused before the rendezvous
    dist = await DistributedRun.start(world, {
      device: cfg.train.device,
      timeoutS: cfg.train.dist_timeout,
    });
  }
  const lock = { release: () => {} };
  try {
    return await runTrainingIn(opts, cfg, dist, resume, resumePath, lock);
  } finally {
    lock.release();
    dist?.dispose();
  }
}

async function runTrainingIn(
  opts: RunOptions,
  cfg: TrainConfig,
  dist: DistributedRun | null,
  resume: CheckpointContent | null,
  resumePath: string | null,
  lock: { release: () => void },
): Promise<RunResult> {
  const t0 = Date.now();
  const main = !dist || dist.isMain;
  // rank 0 alone logs, draws progress bars and writes files
  const log = main ? (opts.log ?? ((m: string) => console.log(m))) : () => {};
  const stream = main ? opts.stream : sinkStream();
  if (resume)
    log(
      `resuming from ${resumePath} (epoch ${resume.state.epoch + 1}, batch ${resume.state.batchInEpoch}, step ${resume.state.step})`,
    );
  // one GPU per process (cuda:LOCAL_RANK); train.device / train.precision refused here, in one
  // line, before anything is written
  if (dist) cfg.train.device = dist.deviceName;
  const device = checkTrainDevice(cfg);
  // train.precision=auto made concrete once, here (rank 0's choice for every rank: nodes may
  // differ in CPU); the resolved value is what config.yaml and the checkpoints record
  if (cfg.train.precision === 'auto') {
    const resolved = resolvePrecision('auto', device);
    cfg.train.precision = dist ? (dist.broadcastString(resolved) as Precision) : resolved;
    log(autoPrecisionLine(cfg.train.precision, device));
  }
  // rank 0 decides where the run writes (a fresh timestamped dir, or a refusal); every rank
  // takes its answer, so the ranks agree and all stop with the same message
  let dirs: RunDirs | null = null;
  let refusal: string | null = null;
  if (main) {
    try {
      dirs = resolveRunDirs(cfg, resumePath, opts.configFile);
      // one trainer per run dir, for the run's whole life (released by runTraining)
      lock.release = lockRunDir(dirs.runDir);
    } catch (e) {
      if (!dist) throw e;
      refusal = (e as Error).message;
    }
  }
  if (dist) {
    const got = JSON.parse(
      dist.broadcastString(JSON.stringify(refusal !== null ? { refusal } : dirs)),
    ) as RunDirs & { refusal?: string };
    if (got.refusal) throw new Error(got.refusal);
    dirs = got;
  }
  const { runDir, ckptDir, sourceRunDir, sourceCkptDir } = dirs!;
  cfg.run_dir = runDir;
  if (main) {
    makeDirs(ckptDir);
    for (const d of new Set([runDir, ckptDir])) {
      const stale = removeStaleTemps(d);
      if (stale.length) log(`removed ${stale.length} temp file(s) of interrupted writes in ${d}`);
    }
    if (resume && sourceRunDir && sourceCkptDir && ckptDir !== sourceCkptDir) {
      // resumed into a new run dir: bring the run's history (metrics, top-k checkpoints) along
      const src = join(sourceRunDir, 'metrics.jsonl');
      if (existsSync(src) && !existsSync(join(runDir, 'metrics.jsonl')))
        copyFileAtomic(src, join(runDir, 'metrics.jsonl'));
      const mcState = resume.state.callbacks.ModelCheckpoint as
        { best?: { path: string }[] } | undefined;
      for (const b of mcState?.best ?? []) {
        const from = join(sourceCkptDir, basename(b.path));
        if (existsSync(from) && from !== resumePath)
          copyFileAtomic(from, join(ckptDir, basename(b.path)));
      }
    }
    // records written after the checkpoint (before a crash) would be written again: drop them
    if (resume) {
      const dropped = MetricsLog.resumeAt(join(runDir, 'metrics.jsonl'), resume.state);
      if (dropped) log(`metrics.jsonl: dropped ${dropped} record(s) written after the checkpoint`);
    }
  }
  // null: every core, unless OMP_NUM_THREADS says otherwise (Debian's libtorch starts with 1)
  const threads =
    cfg.train.threads ?? (process.env.OMP_NUM_THREADS ? null : availableParallelism());
  if (threads) setNumThreads(threads);

  log(`run directory: ${runDir}`);
  if (dist)
    log(
      `data-parallel: ${dist.worldSize} processes (${dist.world.source}), rank 0 on this one; global batch ${cfg.train.batch_size * dist.worldSize} = ${dist.worldSize} × train.batch_size=${cfg.train.batch_size}${cfg.train.sync_bn ? ', SyncBatchNorm' : ''}`,
    );
  log('resolved config:\n' + configToYaml(cfg).replace(/^/gm, '  '));
  if (main) writeFileAtomic(join(runDir, 'config.yaml'), configToYaml(cfg));
  const shard = dist?.shard;

  // ---- data: prepared shards through the src/data loader, or an LRW-layout tree decoded into memory
  // grey (model.in_channels=1) or RGB (3) frames; data.word_boundary adds one more input plane
  const channels = imageChannels(cfg);
  let labels: string[];
  let train: BatchSource, val: BatchSource | undefined, test: BatchSource | undefined;
  const closers: (() => Promise<void>)[] = [];
  if (cfg.data.shards) {
    log(`loading prepared shards from ${cfg.data.shards} ...`);
    const tr = await openShardSource(cfg, 'train', true, shard);
    closers.push(() => tr.close());
    try {
      checkShardChannels(cfg, tr.loader.channels, channels);
      labels = tr.labels;
      if (resume && resume.labels.join('\n') !== labels.join('\n'))
        throw new Error(
          `the checkpoint's ${resume.labels.length} labels differ from ${cfg.data.shards}/labels.txt (${labels.length})`,
        );
      if (cfg.data.words !== null || cfg.data.words_list)
        log(
          'note: data.words/words_list are ignored with data.shards (the words were chosen at prepare time)',
        );
      train = tr;
      for (const split of ['val', 'test'] as const) {
        if (split === 'test' && !cfg.train.test_at_end) continue;
        let s;
        try {
          s = await openShardSource(cfg, split, false, shard);
        } catch (e) {
          if (!(e instanceof MissingSplitError)) throw e; // a corrupt val/test shard is refused, not skipped
          log(`no ${split} split: ${(e as Error).message}`);
          continue;
        }
        closers.push(() => s.close());
        checkShardChannels(cfg, s.loader.channels, channels, split);
        if (split === 'val') val = s;
        else test = s;
      }
    } catch (e) {
      for (const c of closers) await c().catch(() => {});
      throw e;
    }
    log(
      `${labels.length} words (${channels === 3 ? 'colour' : 'grey'}); clips: train ${train.clips}, val ${val?.clips ?? 0}, test ${test?.clips ?? 0}`,
    );
  } else {
    log(`loading data from ${cfg.data.root} ...`);
    const data = await loadLrwSplits(
      cfg,
      cfg.train.test_at_end ? ['train', 'val', 'test'] : ['train', 'val'],
      resume ? resume.labels : null,
      log,
    );
    labels = data.labels;
    log(
      `${labels.length} words (${channels === 3 ? 'colour' : 'grey'}); clips: train ${data.clips.train.length}, val ${data.clips.val.length}, test ${data.clips.test.length}`,
    );
    if (!data.clips.train.length) throw new Error(`no training clips under ${cfg.data.root}`);
    const base: Omit<SourceOptions, 'batchSize' | 'shuffle' | 'augment' | 'dropLast'> = {
      seed: cfg.seed,
      size: cfg.data.size,
      frames: cfg.data.frames,
      mean: cfg.data.mean,
      std: cfg.data.std,
      wordBoundary: cfg.data.word_boundary,
      ...(shard ? { shard } : {}),
    };
    const a = cfg.data.augment;
    train = new MemoryClipSource(data.clips.train, {
      ...base,
      batchSize: cfg.train.batch_size,
      shuffle: true,
      dropLast: true,
      augment: {
        randomCrop: a.random_crop,
        hflip: a.hflip,
        timeMaskFrames: Math.round(a.time_mask_s * 25),
      },
      shuffleLabelsSeed: cfg.data.shuffle_train_labels,
    });
    const evalOpts = {
      ...base,
      batchSize: cfg.train.eval_batch_size ?? cfg.train.batch_size,
      shuffle: false,
      dropLast: false,
      augment: null,
    };
    val = data.clips.val.length ? new MemoryClipSource(data.clips.val, evalOpts) : undefined;
    test = data.clips.test.length ? new MemoryClipSource(data.clips.test, evalOpts) : undefined;
  }

  if (dist)
    dist.assertSame({
      'training clips': train.clips,
      'validation clips': val?.clips ?? 0,
      'test clips': test?.clips ?? 0,
      classes: labels.length,
      'training steps per epoch': train.batchesPerEpoch,
    });

  // ---- model
  const modelConfig = modelConfigFor(cfg, labels.length);
  // resuming: the network the (possibly overridden) config describes must be the one stored
  if (resume) checkTensorsMatchConfig(modelConfig, resume.model, resumePath!);
  const net = createModel(modelConfig, { seed: cfg.seed });
  log(
    `model: variant ${modelConfig.variant}, ${net.numParameters().toLocaleString('en-US')} parameters, ${modelConfig.classes} classes, ${modelConfig.inChannels} input channels, ` +
      `device ${device}${device === 'cpu' ? ` (${getNumThreads()} threads)` : ''}, precision ${cfg.train.precision}${cfg.train.channels_last ? ', channels-last trunk' : ''}`,
  );
  if (cfg.pretrained_model_path && !resume) {
    const rep = loadPretrained(net, cfg.pretrained_model_path);
    log(
      `fine-tuning from ${cfg.pretrained_model_path} (${rep.source} weights): ${rep.loaded} tensors loaded` +
        (rep.skippedHead.length
          ? `; class count differs, head re-initialised: ${rep.skippedHead.join('; ')}`
          : '') +
        (rep.stemConverted ? `; stem converted: ${rep.stemConverted}` : '') +
        (rep.attentionChanged
          ? `; attention ${rep.attentionChanged} (model.attention): the weights are a start, the function changes`
          : '') +
        (rep.missing.length
          ? `; missing (fresh init): ${rep.missing.slice(0, 5).join(', ')}${rep.missing.length > 5 ? ' ...' : ''}`
          : ''),
    );
  }

  // parameters and buffers live on the device before the optimizer and EMA copy them
  placeModel(net as LipReaderNet, device, cfg.train.channels_last);
  if (cfg.train.sync_bn) {
    if (dist)
      log(
        `sync_bn: ${setSyncBatchNorm(net, dist.pg)} batch-norm layers normalise over the global batch`,
      );
    else
      log(
        'note: train.sync_bn has nothing to synchronise in a single process (its batch is the global batch)',
      );
  }

  const callbacks: Callback[] = [];
  const mc = new ModelCheckpoint({
    dir: ckptDir,
    monitor: val ? cfg.checkpointing.monitor : 'train_loss',
    mode: val ? cfg.checkpointing.mode : 'min',
    topK: cfg.checkpointing.top_k,
    saveLast: cfg.checkpointing.save_last,
  });
  callbacks.push(mc);
  if (cfg.early_stopping.enabled && val) {
    callbacks.push(
      new EarlyStopping({
        monitor: cfg.early_stopping.monitor,
        mode: cfg.early_stopping.mode,
        minDelta: cfg.early_stopping.min_delta,
        patience: cfg.early_stopping.patience,
      }),
    );
  }
  const trainer = new Trainer({
    config: cfg,
    labels,
    model: asTrainable(net),
    modelConfig: modelConfig as unknown as Record<string, unknown>,
    preprocessing: {
      crop: cfg.data.crop,
      size: cfg.data.size,
      mean: cfg.data.mean,
      std: cfg.data.std,
    },
    train,
    val,
    test,
    runDir,
    checkpointDir: ckptDir,
    callbacks,
    log,
    stream,
    device: new TrainDevice(device, resolvePrecision(cfg.train.precision, device)),
    // the shard loader mixes batches itself; the in-memory source through this hook
    onBatch:
      !cfg.data.shards && cfg.data.augment.mixup_alpha > 0
        ? mixupHook(cfg.data.augment.mixup_alpha, cfg.seed)
        : undefined,
    ...(dist
      ? {
          dist: {
            rank: dist.rank,
            worldSize: dist.worldSize,
            sum: (xs: ArrayLike<number>) => dist.sum(xs),
            ...dist.attachGradients([...net.namedParameters()].map(([, p]) => p)),
          },
        }
      : {}),
  });
  if (resume) trainer.restore(resume);
  // every replica starts from rank 0's parameters, buffers and EMA
  if (dist) dist.broadcastTensors(replicaTensors(net, trainer.ema));

  let fit: FitResult;
  try {
    fit = await trainer.fit();
  } catch (e) {
    for (const c of closers) await c().catch(() => {});
    throw e;
  }
  log(
    `training finished: ${fit.stopReason} after ${fit.steps} steps (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );

  // ---- test with the best checkpoint (EMA weights)
  let testMetrics: EvalMetrics | undefined;
  let valMetrics: EvalMetrics | undefined;
  const bestPath = mc.bestPath ?? mc.lastPath;
  // data-parallel: rank 0 reads the file it wrote and hands the weights to the others
  let haveBest = !!bestPath && main && existsSync(bestPath);
  if (dist) haveBest = dist.sum([haveBest ? 1 : 0])[0] > 0;
  if (bestPath && haveBest) {
    if (main) trainer.restore(readCheckpoint(bestPath));
    if (dist) dist.broadcastTensors(replicaTensors(net, trainer.ema));
    if (val) valMetrics = await trainer.evaluate(val, { label: 'val (best)' });
    if (test && cfg.train.test_at_end) {
      testMetrics = await trainer.evaluate(test, { label: 'test (best)' });
      if (main) {
        writeFileAtomic(
          join(runDir, 'test_metrics.json'),
          JSON.stringify({ checkpoint: bestPath, ...metricsJson(testMetrics, true) }, null, 2),
        );
        writeFileAtomic(
          join(runDir, 'test_metrics.md'),
          metricsMarkdown(testMetrics, `Test (${basename(bestPath)})`),
        );
      }
      log(
        metricsMarkdown(testMetrics, `Test (${basename(bestPath)})`)
          .split('\n')
          .slice(0, 14)
          .join('\n'),
      );
    }
    if (main && bestPath !== join(ckptDir, 'best.ckpt'))
      writeFileAtomic(join(ckptDir, 'best.ckpt'), readFileSync(bestPath));
  }
  const shown = testMetrics ?? valMetrics;
  const report = !main
    ? join(runDir, 'report.html')
    : writeRunReport({
        runDir,
        title: `eflip run ${basename(runDir)}`,
        configYaml: configToYaml(cfg),
        best:
          shown && bestPath
            ? { name: `${basename(bestPath)} on ${testMetrics ? 'test' : 'val'}`, metrics: shown }
            : undefined,
      });
  for (const c of closers) await c().catch(() => {});
  log(`report: ${report}`);
  return {
    ...fit,
    runDir,
    config: cfg,
    labels,
    bestCheckpoint: bestPath,
    test: testMetrics,
    val: valMetrics,
    report,
    seconds: (Date.now() - t0) / 1000,
  };
}
