// Weights + config + labels + pre-processing facts from an eflip checkpoint (safetensors), for
// export and for the inference backends. EMA weights win when the checkpoint carries them
// (tensors prefixed `ema.`, as written by the trainer's EMA callback).
import { readSafetensors, type RawTensor, type SafetensorsFile } from '../safetensors.js';
import type { Weight } from './layers.js';
import { checkNetworkConfig, type NetworkConfig } from './network_config.js';
import { mapWeightSource, type WeightSource } from './network_graph.js';
import { DEFAULT_PREPROCESSING, type Preprocessing } from './preprocessing.js';

export { DEFAULT_PREPROCESSING, type Preprocessing };

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface LoadedCheckpoint {
  config: NetworkConfig;
  /** raw config object as stored (exported verbatim into metadata) */
  rawConfig: Record<string, unknown>;
  labels: string[];
  preprocessing: Preprocessing;
  weights: WeightSource;
  /** names → float32 weights (the chosen set: EMA when present) */
  tensors: Map<string, Weight>;
  usedEma: boolean;
  metadata: Record<string, string>;
}

const EMA_PREFIXES = ['ema.', 'ema_model.', 'model_ema.'];

function toFloat32(name: string, t: RawTensor): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'bfloat16':
      for (let i = 0; i < n; i++) {
        const b = new DataView(new ArrayBuffer(4));
        b.setUint16(2, dv.getUint16(i * 2, true), false);
        out[i] = b.getFloat32(0, false);
      }
      return out;
    case 'int64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return out;
    default:
      throw new CheckpointError(`tensor '${name}': dtype ${t.dtype} is not supported for inference`);
  }
}

function parseJson(meta: Record<string, string>, key: string, source: string): any {
  if (meta[key] === undefined) return undefined;
  try {
    return JSON.parse(meta[key]);
  } catch (e) {
    throw new CheckpointError(`${source}: metadata '${key}' is not valid JSON (${(e as Error).message})`);
  }
}

/** Interpret a parsed safetensors checkpoint. */
export function checkpointFrom(file: SafetensorsFile, source: string, defaultLabels?: string[]): LoadedCheckpoint {
  const meta = file.metadata;
  const rawConfig = parseJson(meta, 'config', source);
  if (!rawConfig) throw new CheckpointError(`${source}: no model config in the metadata (expected key 'config'; was it written by eflip?)`);
  const config = checkNetworkConfig(rawConfig);
  let labels: string[] | undefined = parseJson(meta, 'labels', source);
  if (labels !== undefined && (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string'))) {
    throw new CheckpointError(`${source}: metadata 'labels' must be a JSON array of strings`);
  }
  labels ??= defaultLabels?.length === config.classes ? defaultLabels : Array.from({ length: config.classes }, (_, i) => `class_${i}`);
  if (labels.length !== config.classes) throw new CheckpointError(`${source}: ${labels.length} labels for ${config.classes} classes`);

  const pre = { ...DEFAULT_PREPROCESSING, ...(parseJson(meta, 'preprocessing', source) ?? {}) } as Preprocessing;

  // Training checkpoints hold `model.*`, `ema.*` (preferred) and `optim.*`; plain state dicts no prefix.
  const keys = [...file.tensors.keys()];
  const emaPrefix = EMA_PREFIXES.find((p) => keys.some((k) => k.startsWith(p)));
  const prefix = emaPrefix ?? (keys.some((k) => k.startsWith('model.')) ? 'model.' : '');
  const hasEma = emaPrefix !== undefined;
  const tensors = new Map<string, Weight>();
  for (const [name, t] of file.tensors) {
    if (!name.startsWith(prefix)) continue;
    const key = name.slice(prefix.length);
    if (key.endsWith('num_batches_tracked')) continue;
    tensors.set(key, { data: toFloat32(name, t), shape: t.shape });
  }
  for (const [k, w] of tensors) {
    for (const v of w.data) {
      if (!Number.isFinite(v)) throw new CheckpointError(`${source}: weight '${k}' contains NaN/Inf`);
    }
  }
  return { config, rawConfig, labels, preprocessing: pre, weights: mapWeightSource(tensors), tensors, usedEma: hasEma, metadata: meta };
}

export function loadCheckpoint(path: string, defaultLabels?: string[]): LoadedCheckpoint {
  let file: SafetensorsFile;
  try {
    file = readSafetensors(path);
  } catch (e) {
    const hint = /\.(ckpt|pt|pth|bin)$/i.test(path) ? ' — a PyTorch checkpoint? convert it first: eflip import ' + path : '';
    throw new CheckpointError(`cannot load checkpoint ${path}: ${(e as Error).message}${hint}`);
  }
  return checkpointFrom(file, path, defaultLabels);
}
