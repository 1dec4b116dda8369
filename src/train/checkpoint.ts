// Training checkpoints: one safetensors file (written atomically) holding
//   model.<name>            raw weights and buffers (what training resumes from)
//   ema.<name>              EMA weights and buffers (what validation, test, export and predict use)
//   optim.<name>.exp_avg / optim.<name>.exp_avg_sq   AdamW moments
// and JSON metadata: `config` (model config, as src/model and the ONNX exporter read it),
// `labels`, `preprocessing`, `train_config` (the resolved TrainConfig), `train_state`
// (epoch, step, loader position, optimizer/scheduler/EMA counters, callback states, RNG).
import { readSafetensorsData, serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { dirname } from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../io/atomic.js';
import {
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

export function readCheckpoint(path: string): CheckpointContent {
  // by content first (a PyTorch file, a video...), then the header: the model config, labels and
  // pre-processing are validated against the model.* and ema.* shapes before any data is read
  let header, checked;
  try {
    header = readModelHeader(path);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  const meta = header.metadata;
  const state = parseMeta(meta, 'train_state', path) as TrainState;
  if (state === null || typeof state !== 'object' || state.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(
      `${path}: checkpoint version ${JSON.stringify(state?.version)?.slice(0, 20)}, this eflip reads ${CHECKPOINT_VERSION}`,
    );
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
  return {
    model,
    ema: ema.size ? ema : null,
    optim,
    modelConfig: checked.rawConfig,
    labels: checked.labels,
    preprocessing: checked.preprocessing,
    trainConfig: configFromObject(parseMeta(meta, 'train_config', path), `${path} train_config`),
    state,
  };
}
