// Training checkpoints: one safetensors file (written atomically) holding
//   model.<name>            raw weights and buffers (what training resumes from)
//   ema.<name>              EMA weights and buffers (what validation, test, export and predict use)
//   optim.<name>.exp_avg / optim.<name>.exp_avg_sq   AdamW moments
// and JSON metadata: `config` (model config, as src/model and the ONNX exporter read it),
// `labels`, `preprocessing`, `train_config` (the resolved TrainConfig), `train_state`
// (epoch, step, loader position, optimizer/scheduler/EMA counters, callback states, RNG).
import { readSafetensorsData, serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { removeStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { basename, dirname } from 'node:path';
import {
  checkFiniteWeights,
  checkTensorsMatchConfig,
  ModelFileError,
  validateModelMetadata,
} from '../model/model_metadata.js';
import { readModelHeader } from '../model/model_file.js';
import { configFromObject, type TrainConfig } from './config.js';
import type { GradScalerState } from './grad_scaler.js';

export const CHECKPOINT_VERSION = 1;

export interface TrainState {
  version: number;
  /** epoch in progress (0-based) and batches of it already consumed (loader position) */
  epoch: number;
  batchInEpoch: number;
  /** optimizer steps taken */
  step: number;
  /** true when written at an epoch boundary after validation */
  epochDone: boolean;
  optimizer: {
    step: number;
    lr: number;
    betas: [number, number];
    eps: number;
    weightDecay: number;
    noDecay: string[];
  };
  scheduler: { step: number; spec: unknown };
  ema: { updates: number; decay: number } | null;
  /** fp16 dynamic loss scaling (scale, good steps since its last change); absent/null otherwise */
  gradScaler?: GradScalerState | null;
  callbacks: Record<string, unknown>;
  /** RNG scheme: libtorch is reseeded from (seed, step) before every step; the loader from (seed, epoch) */
  rng: { seed: number; scheme: string };
  /** last logged metrics (for humans) */
  metrics?: Record<string, number>;
  reason?: string;
  /** data-parallel world that wrote it: processes and clips per optimizer step (absent: 1 process) */
  world?: { size: number; globalBatch: number };
}

export interface CheckpointContent {
  model: Map<string, RawTensor>;
  ema: Map<string, RawTensor> | null;
  optim: Map<string, RawTensor>;
  modelConfig: Record<string, unknown>;
  labels: string[];
  preprocessing: { crop: string; size: number; mean: number; std: number };
  trainConfig: TrainConfig;
  state: TrainState;
  /** the file it was read from (readCheckpoint), for messages */
  source?: string;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const jsonSafe = (v: unknown) =>
  JSON.stringify(v, (_, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));

export function serializeCheckpoint(c: CheckpointContent): Uint8Array {
  const entries: [string, RawTensor][] = [];
  for (const [k, t] of c.model) entries.push([`model.${k}`, t]);
  if (c.ema) for (const [k, t] of c.ema) entries.push([`ema.${k}`, t]);
  for (const [k, t] of c.optim) entries.push([`optim.${k}`, t]);
  return serializeSafetensors(entries, {
    format: 'eflip-checkpoint',
    config: jsonSafe(c.modelConfig),
    labels: JSON.stringify(c.labels),
    preprocessing: JSON.stringify(c.preprocessing),
    train_config: jsonSafe(c.trainConfig),
    train_state: jsonSafe(c.state),
  });
}

/** Serialise fully in memory, then temp file + fsync + rename: a crash never corrupts `path`. */
export function writeCheckpoint(path: string, c: CheckpointContent): void {
  removeStaleTemps(dirname(path)); // left by a writer killed mid-write (kill -9, power loss)
  writeFileAtomic(path, serializeCheckpoint(c));
}

function parseMeta(meta: Record<string, string>, key: string, path: string): any {
  if (meta[key] === undefined)
    throw new CheckpointError(
      `${path}: not an eflip training checkpoint (metadata '${key}' missing)`,
    );
  try {
    return JSON.parse(meta[key]);
  } catch (e) {
    throw new CheckpointError(`${path}: metadata '${key}' is not JSON: ${(e as Error).message}`);
  }
}

/** What this run knows when it restores a checkpoint (Trainer.restore). */
export interface ResumeTarget {
  /** optimizer steps in one epoch of this run's training data */
  stepsPerEpoch: number;
  /** clips per optimizer step over all ranks */
  globalBatch: number;
}

const show = (v: unknown) =>
  v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v)).slice(0, 60);

function checkVersion(raw: unknown, where: string): void {
  const st = raw as Record<string, unknown> | null;
  if (st === null || typeof st !== 'object' || st.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(
      `${where}: checkpoint version ${JSON.stringify(st?.version)?.slice(0, 20)}, this eflip reads ${CHECKPOINT_VERSION}`,
    );
}

/**
 * The one validator of `train_state`: every field the resume path reads (Trainer.restore, the
 * callbacks' loadStateDict, run.ts's copy of the top-k files and metrics.jsonl trimming), held to
 * what Trainer.trainState writes, against the checkpoint's own train_config (its epochs and batch
 * size) and, at restore time, against the resuming run (`target`). A bad field is refused in one
 * line naming it, before anything is written or any tensor is loaded.
 */
export function checkTrainState(
  raw: unknown,
  config: TrainConfig,
  where: string,
  target?: ResumeTarget,
): TrainState {
  checkVersion(raw, where);
  const st = raw as Record<string, unknown>;
  const fail = (
    field: string,
    want: string,
    got: unknown,
    why = 'a damaged or edited checkpoint; resume from another one',
  ): never => {
    throw new CheckpointError(
      `${where}: train_state.${field} must be ${want}, got ${show(got)} (${why})`,
    );
  };
  const obj = (v: unknown, field: string, want = 'an object'): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(field, want, v);
  const int = (
    v: unknown,
    field: string,
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
    want = max === Number.MAX_SAFE_INTEGER
      ? `an integer >= ${min}`
      : `an integer from ${min} to ${max}`,
  ): number =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
      ? (v as number)
      : fail(field, want, v);
  const num = (v: unknown, field: string, want: string, ok: (x: number) => boolean): number =>
    typeof v === 'number' && Number.isFinite(v) && ok(v) ? v : fail(field, want, v);
  const str = (v: unknown, field: string): string =>
    typeof v === 'string' ? v : fail(field, 'a string', v);
  const nonNeg = (v: unknown, field: string) =>
    num(v, field, 'a finite number >= 0', (x) => x >= 0);

  // the schedule first: its length is how many batches an epoch had in the run that wrote it
  const epochs = config.train.epochs;
  const sched = obj(st.scheduler, 'scheduler');
  int(sched.step, 'scheduler.step');
  const spec = obj(sched.spec, 'scheduler.spec');
  nonNeg(spec.lr, 'scheduler.spec.lr');
  const total = int(spec.totalSteps, 'scheduler.spec.totalSteps', 1);
  if (total % epochs !== 0)
    fail(
      'scheduler.spec.totalSteps',
      `a whole number of epochs (train_config.train.epochs=${epochs})`,
      total,
    );
  const perEpoch = total / epochs;
  int(spec.warmupSteps, 'scheduler.spec.warmupSteps');
  if (spec.minLr !== undefined) nonNeg(spec.minLr, 'scheduler.spec.minLr');
  if (spec.warmupStart !== undefined) nonNeg(spec.warmupStart, 'scheduler.spec.warmupStart');

  int(st.epoch, 'epoch', 0, epochs, `an integer from 0 to train_config.train.epochs=${epochs}`);
  const batch = int(
    st.batchInEpoch,
    'batchInEpoch',
    0,
    perEpoch,
    `an integer from 0 to ${perEpoch} (the batches of an epoch of the run that wrote it)`,
  );
  int(st.step, 'step');
  if (typeof st.epochDone !== 'boolean') fail('epochDone', 'true or false', st.epochDone);

  const o = obj(st.optimizer, 'optimizer');
  int(o.step, 'optimizer.step');
  nonNeg(o.lr, 'optimizer.lr');
  if (!Array.isArray(o.betas) || o.betas.length !== 2)
    fail('optimizer.betas', 'two numbers in [0, 1)', o.betas);
  (o.betas as unknown[]).forEach((b, i) =>
    num(b, `optimizer.betas[${i}]`, 'a number in [0, 1)', (x) => x >= 0 && x < 1),
  );
  nonNeg(o.eps, 'optimizer.eps');
  nonNeg(o.weightDecay, 'optimizer.weightDecay');
  if (!Array.isArray(o.noDecay) || !o.noDecay.every((k) => typeof k === 'string'))
    fail('optimizer.noDecay', 'a list of parameter names', o.noDecay);

  if (st.ema !== null) {
    const e = obj(st.ema, 'ema', 'an object or null');
    int(e.updates, 'ema.updates');
    num(e.decay, 'ema.decay', 'a number in [0, 1]', (x) => x >= 0 && x <= 1);
  }
  if (st.gradScaler !== undefined && st.gradScaler !== null) {
    const g = obj(st.gradScaler, 'gradScaler', 'an object or null');
    num(g.scale, 'gradScaler.scale', 'a finite number > 0', (x) => x > 0);
    int(g.growthTracker, 'gradScaler.growthTracker');
    num(g.growthFactor, 'gradScaler.growthFactor', 'a finite number > 1', (x) => x > 1);
    num(g.backoffFactor, 'gradScaler.backoffFactor', 'a number in (0, 1)', (x) => x > 0 && x < 1);
    int(g.growthInterval, 'gradScaler.growthInterval', 1);
  }

  // the states of eflip's callbacks (other names belong to a library user's own callbacks)
  const cbs = obj(st.callbacks, 'callbacks');
  if (cbs.ModelCheckpoint !== undefined) {
    const mc = obj(cbs.ModelCheckpoint, 'callbacks.ModelCheckpoint');
    // only the file name is used (in this run's checkpoint dir): a top-k file, which a later
    // eviction deletes, so never last.ckpt or best.ckpt
    const topK = (name: unknown) =>
      typeof name === 'string' &&
      /^[^/\\]+\.ckpt$/.test(basename(name)) &&
      !['last.ckpt', 'best.ckpt'].includes(basename(name));
    if (!Array.isArray(mc.best)) fail('callbacks.ModelCheckpoint.best', 'a list', mc.best);
    (mc.best as unknown[]).forEach((b, i) => {
      const f = `callbacks.ModelCheckpoint.best[${i}]`;
      const e = obj(b, f);
      if (!topK(e.path)) fail(`${f}.path`, 'the path of a top-k .ckpt file', e.path);
      num(e.score, `${f}.score`, 'a finite number', () => true);
      int(e.epoch, `${f}.epoch`);
      int(e.step, `${f}.step`);
    });
    if (
      mc.lastPath !== null &&
      (typeof mc.lastPath !== 'string' || basename(mc.lastPath) !== 'last.ckpt')
    )
      fail('callbacks.ModelCheckpoint.lastPath', 'null or the path of a last.ckpt', mc.lastPath);
  }
  if (cbs.EarlyStopping !== undefined) {
    const es = obj(cbs.EarlyStopping, 'callbacks.EarlyStopping');
    // ±Infinity travel as strings (jsonSafe)
    if (!(es.best === 'Infinity' || es.best === '-Infinity'))
      num(es.best, 'callbacks.EarlyStopping.best', 'a number or ±"Infinity"', () => true);
    int(es.wait, 'callbacks.EarlyStopping.wait');
    if (es.stoppedEpoch !== null) int(es.stoppedEpoch, 'callbacks.EarlyStopping.stoppedEpoch');
  }

  const rng = obj(st.rng, 'rng');
  int(rng.seed, 'rng.seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'an integer');
  str(rng.scheme, 'rng.scheme');
  if (st.metrics !== undefined)
    for (const [k, v] of Object.entries(obj(st.metrics, 'metrics')))
      if (typeof v !== 'number' && typeof v !== 'string') fail(`metrics.${k}`, 'a number', v);
  if (st.reason !== undefined) str(st.reason, 'reason');
  let written = { size: 1, globalBatch: config.train.batch_size };
  if (st.world !== undefined) {
    const w = obj(st.world, 'world');
    const size = int(w.size, 'world.size', 1);
    const gb = config.train.batch_size * size;
    int(
      w.globalBatch,
      'world.globalBatch',
      gb,
      gb,
      `world.size × train_config.train.batch_size = ${gb}`,
    );
    written = { size, globalBatch: gb };
  }

  // the resuming run: with the same global batch the loader position carries over as it is, so
  // it must lie within an epoch of this run's data (another global batch is mapped, in clips)
  if (target && written.globalBatch === target.globalBatch && batch > target.stepsPerEpoch)
    fail(
      'batchInEpoch',
      `at most ${target.stepsPerEpoch}, the batches of an epoch of this run`,
      batch,
      'the training data or train.limit_train_batches differ from the run that wrote it; resume with those',
    );
  return st as unknown as TrainState;
}

export function readCheckpoint(path: string): CheckpointContent {
  // by content first (a PyTorch file, a video...), then the header: the model config, labels and
  // pre-processing are validated against the model.* and ema.* shapes, and train_config and
  // train_state against each other, before any data is read
  let header, checked;
  try {
    header = readModelHeader(path);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  const meta = header.metadata;
  const rawState: unknown = parseMeta(meta, 'train_state', path);
  // a checkpoint of another version is named as such first (its other metadata may differ)
  checkVersion(rawState, path);
  const set = (prefix: string) =>
    new Map(
      [...header.entries]
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, t]) => [k.slice(prefix.length), t]),
    );
  try {
    checked = validateModelMetadata(meta, set('model.'), path);
    const ema = set('ema.');
    if (ema.size) checkTensorsMatchConfig(checked.config, ema, `${path} (EMA weights)`);
  } catch (e) {
    if (e instanceof ModelFileError) throw new CheckpointError(e.message);
    throw e;
  }
  const trainConfig = configFromObject(
    parseMeta(meta, 'train_config', path),
    `${path} train_config`,
  );
  const state = checkTrainState(rawState, trainConfig, path);
  let f;
  try {
    f = readSafetensorsData(path, header);
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  const model = new Map<string, RawTensor>();
  const ema = new Map<string, RawTensor>();
  const optim = new Map<string, RawTensor>();
  for (const [k, t] of f.tensors) {
    if (k.startsWith('model.')) model.set(k.slice(6), t);
    else if (k.startsWith('ema.')) ema.set(k.slice(4), t);
    else if (k.startsWith('optim.')) optim.set(k.slice(6), t);
  }
  // a NaN/Inf anywhere (a diverged run, a damaged file) would train and validate NaN from here
  // on: refused like a model file's (readModelFile), in the weights, the EMA and the moments
  try {
    checkFiniteWeights(model, path);
    checkFiniteWeights(ema, `${path} (EMA weights)`);
    checkFiniteWeights(optim, `${path} (optimizer state)`);
  } catch (e) {
    if (e instanceof ModelFileError) throw new CheckpointError(e.message);
    throw e;
  }
  return {
    model,
    ema: ema.size ? ema : null,
    optim,
    modelConfig: checked.rawConfig,
    labels: checked.labels,
    preprocessing: checked.preprocessing,
    trainConfig,
    state,
    source: path,
  };
}
