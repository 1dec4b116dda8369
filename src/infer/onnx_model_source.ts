// Where an onnxruntime backend gets its graphs: an exported .onnx file (+ the .frontend/.backend
// pair written by `eflip export --features`), or a checkpoint exported in memory.
import { OnnxFileError, readOnnxSummary } from '../io/onnx/onnx_reader.js';
import { checkGraph, graphLimits, type GraphLimits } from '../io/onnx/graph_check.js';
import { exportMetadata, exportOnnx } from '../io/onnx/export_model.js';
import type { LoadedCheckpoint } from '../io/onnx/checkpoint_weights.js';
import {
  checkPreprocessing,
  PreprocessingError,
  type Preprocessing,
} from '../io/onnx/preprocessing.js';
import { checkConfig, checkLabels, metadataJson, ModelFileError } from '../model/model_metadata.js';
import { summarize } from '../model/summary.js';
import type { ModelConfig } from '../model/config.js';
import { ModelLoadError } from './types.js';

export type GraphPart = 'full' | 'frontend' | 'backend';

export interface OnnxModelSource {
  /** file name or URL, for messages */
  readonly source: string;
  /** the eflip.* metadata props of the model */
  readonly metadata: Record<string, string>;
  graph(part: GraphPart): Promise<Uint8Array>;
}

/** Everything the reader needs to know, read from the metadata props. */
export interface ModelFacts {
  labels: string[];
  preprocessing: Preprocessing;
  channels: number;
  featureDim: number;
  classes: number;
  /** multiply-accumulates of the front-end per image (model/summary.ts) */
  frontendMacsPerImage: number;
  /** the network's config as the metadata gives it (checked) */
  config: ModelConfig;
  /** an int8 export (`eflip.quantization` is set) */
  int8: boolean;
  /** an int8 export's weight range (7 or 8 bits; 8 for exports from before eflip recorded it),
   *  null for float32: 8-bit weights saturate on x86 CPUs without VNNI (quantize.ts) */
  int8WeightBits: 7 | 8 | null;
  /** what this network's graph may hold (io/onnx/graph_check.ts) */
  graphLimits: GraphLimits;
}

/** `eflip.quantization`'s weight range: 7 only when it says so (a file from before the field,
 *  or one whose value cannot be read, is taken as 8-bit: the range that can saturate). */
function int8WeightBits(meta: Record<string, string>, source: string): 7 | 8 | null {
  if (meta['eflip.quantization'] === undefined) return null;
  try {
    const q = metadataJson(meta, 'eflip.quantization', source) as { weightBits?: unknown } | null;
    return q?.weightBits === 7 ? 7 : 8;
  } catch {
    return 8;
  }
}

/** The model facts of an ONNX file's metadata, validated as a checkpoint's are (model_metadata.ts):
 *  a bounded config, `classes` distinct labels, a known crop, finite normalisation (std > 0). */
export function factsFromMetadata(meta: Record<string, string>, source: string): ModelFacts {
  const json = (k: string): unknown => {
    if (meta[k] === undefined)
      throw new ModelLoadError(
        `${source}: not an eflip model (metadata '${k}' missing; export it with \`eflip export\`)`,
      );
    return metadataJson(meta, k, source);
  };
  const obj = (k: string, keys: string[]): Record<string, unknown> => {
    const v = json(k);
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new ModelLoadError(`${source}: metadata '${k}' must be a JSON object`);
    for (const kk of Object.keys(v))
      if (!keys.includes(kk))
        throw new ModelLoadError(
          `${source}: metadata '${k}' has an unknown key '${kk.slice(0, 60)}'`,
        );
    return v as Record<string, unknown>;
  };
  try {
    const config = checkConfig(json('eflip.config'), `${source}: metadata 'eflip.config'`);
    const labels = checkLabels(
      json('eflip.labels'),
      config.classes,
      `${source}: metadata 'eflip.labels'`,
    );
    const norm = obj('eflip.normalisation', ['mean', 'std', 'scale']);
    const crop = obj('eflip.crop', ['kind', 'size']);
    if (norm.scale !== undefined && norm.scale !== 1 / 255)
      throw new ModelLoadError(
        `${source}: metadata 'eflip.normalisation' scale must be 1/255, got ${JSON.stringify(norm.scale)?.slice(0, 40)}`,
      );
    const grey = Object.hasOwn(meta, 'eflip.grey') ? { grey: meta['eflip.grey'] } : {};
    const preprocessing = checkPreprocessing(
      { crop: crop.kind, size: crop.size, mean: norm.mean, std: norm.std, ...grey },
      `${source}: metadata 'eflip.crop'/'eflip.normalisation'/'eflip.grey'`,
    );
    return {
      labels,
      preprocessing,
      channels: config.inChannels,
      featureDim: config.featureDim,
      classes: config.classes,
      frontendMacsPerImage: summarize(config, 1, preprocessing.size).macs.frontend,
      config,
      int8: meta['eflip.quantization'] !== undefined,
      int8WeightBits: int8WeightBits(meta, source),
      graphLimits: graphLimits(config.tcn),
    };
  } catch (e) {
    if (e instanceof ModelFileError || e instanceof PreprocessingError)
      throw new ModelLoadError(e.message);
    throw e;
  }
}

/** In-memory export from a loaded checkpoint (each graph built once, on first use). */
export function checkpointSource(ck: LoadedCheckpoint, source: string): OnnxModelSource {
  const cache = new Map<GraphPart, Uint8Array>();
  return {
    source,
    metadata: exportMetadata(ck, 'full'),
    async graph(part) {
      let b = cache.get(part);
      if (!b) {
        b = exportOnnx(ck, part);
        cache.set(part, b);
      }
      return b;
    },
  };
}

/** Why a front-end/back-end graph cannot have been exported with the full model (its
 *  metadata against the full model's), or null. Files from before `eflip.weights` are
 *  compared by config and labels. */
export function notFromOneExport(
  full: Record<string, string>,
  part: Record<string, string>,
): string | null {
  const int8 = (m: Record<string, string>) => m['eflip.quantization'] !== undefined;
  if (int8(full) !== int8(part))
    return `${int8(part) ? 'int8' : 'float32'} beside a ${int8(full) ? 'int8' : 'float32'} model`;
  if (full['eflip.weights'] !== part['eflip.weights']) return 'other weights';
  if (full['eflip.config'] !== part['eflip.config']) return 'another network config';
  if (full['eflip.labels'] !== part['eflip.labels']) return 'other labels';
  return null;
}

/** Model bytes already in memory (browser fetch, tests); `parts` may add frontend/backend. */
export function bytesSource(
  full: Uint8Array,
  source: string,
  parts: Partial<Record<GraphPart, Uint8Array | (() => Promise<Uint8Array>)>> = {},
): OnnxModelSource {
  const summary = readOnnxSummary(full, source);
  if (summary.metadata['eflip.graph'] && summary.metadata['eflip.graph'] !== 'full') {
    throw new ModelLoadError(
      `${source}: this is the '${summary.metadata['eflip.graph']}' half of a feature export; load the full model file`,
    );
  }
  // a stranger's graph is checked before onnxruntime opens it (external data, control flow, ...)
  const limits = factsFromMetadata(summary.metadata, source).graphLimits;
  const check = (b: Uint8Array, what: string) => {
    try {
      checkGraph(b, what, limits);
    } catch (e) {
      if (e instanceof OnnxFileError) throw new ModelLoadError(e.message);
      throw e;
    }
  };
  check(full, source);
  return {
    source,
    metadata: summary.metadata,
    async graph(part) {
      if (part === 'full') return full;
      const p = parts[part];
      if (!p)
        throw new ModelLoadError(
          `${source}: no ${part} graph; export with \`eflip export --features\` (or load the checkpoint) for streaming`,
        );
      const b = typeof p === 'function' ? await p() : p;
      let s;
      try {
        s = readOnnxSummary(b, `${source} (${part})`);
      } catch (e) {
        if (e instanceof OnnxFileError) throw new ModelLoadError(e.message);
        throw e;
      }
      if (s.metadata['eflip.graph'] !== part)
        throw new ModelLoadError(
          `${source}: the ${part} file holds a '${s.metadata['eflip.graph']}' graph`,
        );
      const other = notFromOneExport(summary.metadata, s.metadata);
      if (other)
        throw new ModelLoadError(
          `${source}: its ${part} graph is not from the same export (${other}); export the model again with \`eflip export --features\``,
        );
      check(b, `${source} (${part})`);
      return b;
    },
  };
}
