// eflip model files: safetensors with the state dict (reference-compatible keys) and metadata
//   format  "eflip-model"
//   config  JSON ModelConfig (src/model/config.ts)
//   labels  JSON array of class names (index = class id)
// Training checkpoints (src/train) may prefix tensors with "model." / "ema."; loadModel reads
// those too (EMA weights preferred, as the trainer validates with them).
import { tidy, manualSeed } from '../engine/index.js';
import type { Tensor } from '../engine/index.js';
import { writeSafetensors, type RawTensor, type SafetensorsFile } from '../io/safetensors.js';
import { LipReaderNet } from './lipreader.js';
import type { ModelConfig, ModelConfigInput } from './config.js';
import {
  checkLabels,
  defaultLabels,
  metadataJson,
  ModelFileError,
  selectWeights as selectWeightSet,
} from './model_metadata.js';
import { readModelFile } from './model_file.js';
import type { Preprocessing } from '../io/onnx/preprocessing.js';
import type { LoadReport } from '../nn/index.js';

export { ModelFileError, defaultLabels };

export const MODEL_FORMAT = 'eflip-model';

/** A raw copy of a tensor (CPU, contiguous) for serialisation. */
export function tensorToRaw(t: Tensor): RawTensor {
  const data = tidy(() => (t.device === 'cpu' ? t.toBytes() : t.to({ device: 'cpu' }).toBytes()));
  return { dtype: t.dtype, shape: t.shape, data };
}

/** A freshly initialised network (PyTorch default inits; reproducible with `seed`). */
export function createModel(
  config: ModelConfig | ModelConfigInput = {},
  opts: { seed?: number; device?: string } = {},
): LipReaderNet {
  if (opts.seed !== undefined) manualSeed(opts.seed);
  const m = new LipReaderNet(config);
  if (opts.device && opts.device !== 'cpu') m.to({ device: opts.device });
  return m;
}

export interface SaveOptions {
  labels?: string[];
  /** extra string metadata (e.g. preprocessing JSON, provenance) */
  metadata?: Record<string, string>;
  /** tensor name prefix (e.g. "model.") */
  prefix?: string;
}

/** Entries of a state dict as raw tensors, optionally prefixed. */
export function stateDictEntries(model: LipReaderNet, prefix = ''): [string, RawTensor][] {
  return [...model.stateDict()].map(([k, t]) => [prefix + k, tensorToRaw(t)]);
}

/** Metadata block of an eflip model file. */
export function modelMetadata(
  config: ModelConfig,
  labels?: string[],
  extra: Record<string, string> = {},
): Record<string, string> {
  const l = labels ?? defaultLabels(config.classes);
  if (l.length !== config.classes)
    throw new ModelFileError(`${l.length} labels for ${config.classes} classes`);
  return {
    ...extra,
    format: MODEL_FORMAT,
    config: JSON.stringify(config),
    labels: JSON.stringify(l),
  };
}

/** Write model weights + config + labels (atomic). */
export function saveModel(path: string, model: LipReaderNet, opts: SaveOptions = {}): void {
  writeSafetensors(
    path,
    stateDictEntries(model, opts.prefix ?? ''),
    modelMetadata(model.config, opts.labels, opts.metadata),
  );
}

export interface LoadedModel {
  model: LipReaderNet;
  config: ModelConfig;
  labels: string[];
  preprocessing: Preprocessing;
  metadata: Record<string, string>;
  report: LoadReport;
  /** which tensor set was loaded: '' (plain), 'model.' or 'ema.' */
  source: string;
}

/** Parse the labels of a model file's metadata (or the default labels); see model_metadata.ts. */
export function labelsFromMetadata(
  meta: Record<string, string>,
  classes: number,
  where = 'model file',
): string[] {
  const raw = metadataJson(meta, 'labels', where);
  return raw === undefined
    ? defaultLabels(classes)
    : checkLabels(raw, classes, `${where}: metadata 'labels'`);
}

/** The tensors of a model file without prefix, choosing EMA ("ema.") over "model." when present. */
export function selectWeights(
  file: SafetensorsFile,
  opts: { ema?: boolean } = {},
): { tensors: Map<string, RawTensor>; source: string } {
  const { tensors, prefix } = selectWeightSet(file.tensors, opts);
  return { tensors, source: prefix };
}

/** Load an eflip model file (or a training checkpoint in safetensors form), validated first
 *  (src/model/model_file.ts): the network is built only for a config that matches the stored tensors. */
export function loadModel(
  path: string,
  opts: { ema?: boolean; config?: ModelConfigInput; device?: string } = {},
): LoadedModel {
  const f = readModelFile(path, { ema: opts.ema, config: opts.config });
  const model = createModel(f.config);
  let report: LoadReport;
  try {
    // names and shapes were checked against the config; BatchNorm counters may be absent
    report = model.loadStateDict(f.weights, { strict: false });
  } catch (e) {
    model.dispose();
    throw new ModelFileError(`${path}: ${(e as Error).message.split('\n').join(' ')}`);
  }
  if (opts.device && opts.device !== 'cpu') model.to({ device: opts.device });
  return {
    model,
    config: f.config,
    labels: f.labels,
    preprocessing: f.preprocessing,
    metadata: f.file.metadata,
    report,
    source: f.prefix,
  };
}
