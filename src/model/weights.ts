// eflip model files: safetensors with the state dict (reference-compatible keys) and metadata
//   format  "eflip-model"
//   config  JSON ModelConfig (src/model/config.ts)
//   labels  JSON array of class names (index = class id)
// Training checkpoints (src/train) may prefix tensors with "model." / "ema."; loadModel reads
// those too (EMA weights preferred, as the trainer validates with them).
import { tidy, manualSeed } from '../engine/index.js';
import type { Tensor } from '../engine/index.js';
import { readSafetensors, writeSafetensors, type RawTensor, type SafetensorsFile } from '../io/safetensors.js';
import { LipReaderNet } from './lipreader.js';
import { modelConfig, modelConfigFromJson, type ModelConfig, type ModelConfigInput } from './config.js';
import { LRW_WORDS } from './lrw_words.js';
import type { LoadReport } from '../nn/index.js';

export const MODEL_FORMAT = 'eflip-model';

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** Default class names: the first N sorted LRW words (all 500 for the LRW task), else class_i. */
export function defaultLabels(classes: number): string[] {
  return classes <= LRW_WORDS.length ? LRW_WORDS.slice(0, classes) : Array.from({ length: classes }, (_, i) => `class_${i}`);
}

/** A raw copy of a tensor (CPU, contiguous) for serialisation. */
export function tensorToRaw(t: Tensor): RawTensor {
  const data = tidy(() => t.device === 'cpu' ? t.toBytes() : t.to({ device: 'cpu' }).toBytes());
  return { dtype: t.dtype, shape: t.shape, data };
}

/** A freshly initialised network (PyTorch default inits; reproducible with `seed`). */
export function createModel(config: ModelConfig | ModelConfigInput = {}, opts: { seed?: number; device?: string } = {}): LipReaderNet {
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
export function modelMetadata(config: ModelConfig, labels?: string[], extra: Record<string, string> = {}): Record<string, string> {
  const l = labels ?? defaultLabels(config.classes);
  if (l.length !== config.classes) throw new ModelFileError(`${l.length} labels for ${config.classes} classes`);
  return { ...extra, format: MODEL_FORMAT, config: JSON.stringify(config), labels: JSON.stringify(l) };
}

/** Write model weights + config + labels (atomic). */
export function saveModel(path: string, model: LipReaderNet, opts: SaveOptions = {}): void {
  writeSafetensors(path, stateDictEntries(model, opts.prefix ?? ''), modelMetadata(model.config, opts.labels, opts.metadata));
}

export interface LoadedModel {
  model: LipReaderNet;
  config: ModelConfig;
  labels: string[];
  metadata: Record<string, string>;
  report: LoadReport;
  /** which tensor set was loaded: '' (plain), 'model.' or 'ema.' */
  source: string;
}

/** Parse the labels of a model file's metadata (or the default labels). */
export function labelsFromMetadata(meta: Record<string, string>, classes: number, where = 'model file'): string[] {
  if (meta.labels === undefined) return defaultLabels(classes);
  let l: unknown;
  try {
    l = JSON.parse(meta.labels);
  } catch {
    throw new ModelFileError(`${where}: metadata 'labels' is not JSON`);
  }
  if (!Array.isArray(l) || !l.every((s) => typeof s === 'string')) throw new ModelFileError(`${where}: metadata 'labels' must be a JSON array of strings`);
  if (l.length !== classes) throw new ModelFileError(`${where}: ${l.length} labels for ${classes} classes`);
  return l as string[];
}

/** The tensors of a model file without prefix, choosing EMA ("ema.") over "model." when present. */
export function selectWeights(file: SafetensorsFile, opts: { ema?: boolean } = {}): { tensors: Map<string, RawTensor>; source: string } {
  const keys = [...file.tensors.keys()];
  const has = (p: string) => keys.some((k) => k.startsWith(p));
  const source = has('ema.') && opts.ema !== false ? 'ema.' : has('model.') ? 'model.' : '';
  if (!source) return { tensors: file.tensors, source };
  const tensors = new Map<string, RawTensor>();
  for (const [k, v] of file.tensors) if (k.startsWith(source)) tensors.set(k.slice(source.length), v);
  return { tensors, source };
}

/** Load an eflip model file (or a training checkpoint in safetensors form). */
export function loadModel(path: string, opts: { ema?: boolean; strict?: boolean; config?: ModelConfigInput; device?: string } = {}): LoadedModel {
  const file = readSafetensors(path);
  let config: ModelConfig;
  if (opts.config) config = modelConfig(opts.config);
  else if (file.metadata.config) config = modelConfigFromJson(file.metadata.config);
  else throw new ModelFileError(`${path}: no model config in the metadata (was it written by eflip? pass a config)`);
  const labels = labelsFromMetadata(file.metadata, config.classes, path);
  const { tensors, source } = selectWeights(file, opts);
  const model = new LipReaderNet(config);
  let report: LoadReport;
  try {
    report = model.loadStateDict(tensors, { strict: opts.strict ?? true });
  } catch (e) {
    model.dispose();
    throw new ModelFileError(`${path}: ${(e as Error).message}`);
  }
  if (opts.device && opts.device !== 'cpu') model.to({ device: opts.device });
  return { model, config, labels, metadata: file.metadata, report, source };
}
