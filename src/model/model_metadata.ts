// The one validation of a model's metadata (issue #16). A model file may come from a stranger,
// so its metadata is hostile input, not trusted config: the config is bounded (MODEL_LIMITS) and
// must describe exactly the tensors stored (names, shapes, float/int) — checked from the config
// arithmetic (stateShapes) before any network is built or any tensor data read; the labels are
// `classes` distinct non-empty strings; the pre-processing facts are a known crop and finite
// numbers (std > 0). Every loader (predict on both runtimes, eval, export, train fine-tune and
// resume, stream, info) goes through here. No Node imports: the browser reader uses it too.
import {
  ModelConfigError,
  modelConfig,
  type ModelConfig,
  type ModelConfigInput,
} from './config.js';
import { stateShapes } from './state_shapes.js';
import { LRW_WORDS } from './lrw_words.js';
import { isFloatDType, sameShapeIgnoringOnes } from '../nn/state_match.js';
import {
  checkPreprocessing,
  PreprocessingError,
  type Preprocessing,
} from '../io/onnx/preprocessing.js';

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** Longest class name accepted from a model file. */
export const MAX_LABEL_CHARS = 256;

/** Default class names: the first N sorted LRW words (all 500 for the LRW task), else class_i. */
export function defaultLabels(classes: number): string[] {
  return classes <= LRW_WORDS.length
    ? LRW_WORDS.slice(0, classes)
    : Array.from({ length: classes }, (_, i) => `class_${i}`);
}

/** A metadata value parsed as JSON (undefined when the key is absent). */
export function metadataJson(meta: Record<string, string>, key: string, where: string): unknown {
  if (!Object.hasOwn(meta, key)) return undefined;
  try {
    return JSON.parse(meta[key]);
  } catch (e) {
    throw new ModelFileError(
      `${where}: metadata '${key}' is not valid JSON (${(e as Error).message})`,
    );
  }
}

/** Class names: an array of `classes` distinct, non-empty strings without control characters. */
export function checkLabels(raw: unknown, classes: number, where: string): string[] {
  const bad = (msg: string): never => {
    throw new ModelFileError(`${where}: ${msg}`);
  };
  if (!Array.isArray(raw))
    bad(`labels must be a JSON array of strings, got ${JSON.stringify(raw)?.slice(0, 60)}`);
  const l = raw as unknown[];
  if (l.length !== classes) bad(`${l.length} labels for ${classes} classes`);
  const seen = new Set<string>();
  l.forEach((s, i) => {
    if (typeof s !== 'string')
      bad(`label ${i} is not a string (${JSON.stringify(s)?.slice(0, 40)})`);
    const w = s as string;
    if (!w.trim()) bad(`label ${i} is empty`);
    if (w.length > MAX_LABEL_CHARS)
      bad(`label ${i} is ${w.length} characters long (at most ${MAX_LABEL_CHARS})`);
    if (/[\u0000-\u001f\u007f]/.test(w)) bad(`label ${i} contains control characters`);
    if (seen.has(w)) bad(`label ${JSON.stringify(w.slice(0, 60))} appears twice`);
    seen.add(w);
  });
  return l as string[];
}

/** A model config from metadata JSON: an object of known keys, within MODEL_LIMITS. */
export function checkConfig(raw: unknown, where: string): ModelConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ModelFileError(
      `${where}: the model config must be a JSON object, got ${JSON.stringify(raw)?.slice(0, 60)}`,
    );
  try {
    return modelConfig(raw as ModelConfigInput);
  } catch (e) {
    if (e instanceof ModelConfigError) throw new ModelFileError(`${where}: ${e.message}`);
    throw e;
  }
}

/** The tensor prefixes of a training checkpoint's weight sets, EMA first. */
export const EMA_PREFIXES = ['ema.', 'ema_model.', 'model_ema.'];

/**
 * The weight set a loader uses (the one weight selector): EMA weights (`ema.*`) when present and
 * wanted, else the raw training weights (`model.*`), else the plain names (minus optimizer state).
 */
export function selectWeights<T>(
  all: Map<string, T>,
  opts: { ema?: boolean } = {},
): { tensors: Map<string, T>; prefix: string } {
  const keys = [...all.keys()];
  const has = (p: string) => keys.some((k) => k.startsWith(p));
  const prefix =
    (opts.ema !== false ? EMA_PREFIXES.find(has) : undefined) ?? (has('model.') ? 'model.' : '');
  const tensors = new Map<string, T>();
  for (const [k, v] of all) {
    if (prefix) {
      if (k.startsWith(prefix)) tensors.set(k.slice(prefix.length), v);
    } else if (!k.startsWith('optim.') && !EMA_PREFIXES.some((p) => k.startsWith(p)))
      tensors.set(k, v);
  }
  return { tensors, prefix };
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * The stored tensors are exactly the network the config describes: every name of stateShapes(c)
 * present with its shape (size-1 dims aside, as loadStateDict allows) and float/int kind, and
 * nothing else. BatchNorm counters (num_batches_tracked) may be absent.
 */
export function checkTensorsMatchConfig(
  c: ModelConfig,
  tensors: Map<string, { dtype: string; shape: readonly number[] }>,
  where: string,
): void {
  const bad = (msg: string): never => {
    throw new ModelFileError(`${where}: ${msg}`);
  };
  let seen = 0;
  for (const e of stateShapes(c)) {
    const t = tensors.get(e.name);
    if (!t) {
      if (e.name.endsWith('num_batches_tracked')) continue;
      bad(
        `the model config needs tensor '${e.name}' ${shapeText(e.shape)}, the file has none (config and weights do not match)`,
      );
    }
    seen++;
    const tt = t!;
    if (!sameShapeIgnoringOnes(tt.shape, e.shape)) {
      bad(
        `tensor '${e.name}' is ${shapeText(tt.shape)} but the model config (classes ${c.classes}, featureDim ${c.featureDim}, tcn.width ${c.tcn.width}) needs ${shapeText(e.shape)}`,
      );
    }
    if ((e.kind === 'float') !== isFloatDType(tt.dtype))
      bad(
        `tensor '${e.name}' has dtype ${tt.dtype}, the network needs ${e.kind === 'float' ? 'a floating-point' : 'an integer'} tensor`,
      );
  }
  if (seen !== tensors.size) {
    const known = new Set<string>();
    for (const e of stateShapes(c)) known.add(e.name);
    const extra = [...tensors.keys()].filter((k) => !known.has(k));
    bad(
      `${extra.length} tensor(s) are not part of the network the model config describes (first: '${extra[0]?.slice(0, 120)}')`,
    );
  }
}

export interface ModelMetadata {
  config: ModelConfig;
  /** the config object as stored (exported verbatim into ONNX metadata) */
  rawConfig: Record<string, unknown>;
  labels: string[];
  preprocessing: Preprocessing;
}

/**
 * Validate the metadata of a model file against its tensors (the chosen weight set, names without
 * prefix; null when there are none to check, as for an ONNX file). `config` replaces the stored
 * config (a caller's own). Messages name `where` (the file) and the problem, on one line.
 */
export function validateModelMetadata(
  meta: Record<string, string>,
  tensors: Map<string, { dtype: string; shape: readonly number[] }> | null,
  where: string,
  opts: { config?: ModelConfigInput } = {},
): ModelMetadata {
  let rawConfig: unknown = opts.config;
  if (rawConfig === undefined) {
    rawConfig = metadataJson(meta, 'config', where);
    if (rawConfig === undefined) {
      throw new ModelFileError(
        `${where}: no model config in the metadata (key 'config'): not an eflip model file (for a PyTorch checkpoint run \`eflip import FILE --out model.safetensors\` first)`,
      );
    }
  }
  const config = checkConfig(rawConfig, `${where}: metadata 'config'`);
  if (tensors) {
    if (!tensors.size) throw new ModelFileError(`${where}: the file holds no weights`);
    checkTensorsMatchConfig(config, tensors, where);
  }
  const rawLabels = metadataJson(meta, 'labels', where);
  const labels =
    rawLabels === undefined
      ? defaultLabels(config.classes)
      : checkLabels(rawLabels, config.classes, `${where}: metadata 'labels'`);
  let preprocessing: Preprocessing;
  try {
    preprocessing = checkPreprocessing(
      metadataJson(meta, 'preprocessing', where),
      `${where}: metadata 'preprocessing'`,
    );
  } catch (e) {
    if (e instanceof PreprocessingError) throw new ModelFileError(e.message);
    throw e;
  }
  return { config, rawConfig: rawConfig as Record<string, unknown>, labels, preprocessing };
}

/**
 * Index of the first NaN or ±Inf element of a float tensor (little-endian bytes, read in place:
 * all exponent bits set), or -1 (also for integer tensors).
 */
export function firstNonFinite(t: { dtype: string; data: Uint8Array }): number {
  const b = t.data;
  switch (t.dtype) {
    case 'float32':
      for (let i = 3; i < b.length; i += 4)
        if ((b[i] & 0x7f) === 0x7f && b[i - 1] & 0x80) return (i - 3) / 4;
      return -1;
    case 'bfloat16':
      for (let i = 1; i < b.length; i += 2)
        if ((b[i] & 0x7f) === 0x7f && b[i - 1] & 0x80) return (i - 1) / 2;
      return -1;
    case 'float16':
      for (let i = 1; i < b.length; i += 2) if ((b[i] & 0x7c) === 0x7c) return (i - 1) / 2;
      return -1;
    case 'float64': {
      // the network runs in float32: a finite float64 beyond its range (1e300) becomes ±Inf
      const dv = new DataView(b.buffer, b.byteOffset, b.length - (b.length % 8));
      for (let i = 0; i < dv.byteLength; i += 8)
        if (!Number.isFinite(Math.fround(dv.getFloat64(i, true)))) return i / 8;
      return -1;
    }
    default:
      return -1;
  }
}

/**
 * Weights with a NaN or infinite value (float64: or one float32 cannot hold) are refused, by every loader (model files, and
 * checkpoints held in memory for export): a network built from them answers NaN for every clip.
 */
export function checkFiniteWeights(
  tensors: Map<string, { dtype: string; data: Uint8Array }>,
  where: string,
): void {
  for (const [key, t] of tensors) {
    const at = firstNonFinite(t);
    if (at >= 0)
      throw new ModelFileError(
        `${where}: weight '${key}' contains NaN/Inf${t.dtype === 'float64' ? ' (or a value beyond float32)' : ''} (element ${at}); the weights are unusable — a diverged training run? use an earlier checkpoint`,
      );
  }
}
