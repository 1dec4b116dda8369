// Weights + config + labels + pre-processing facts from an eflip checkpoint (safetensors), for
// export and for the inference backends. EMA weights win when the checkpoint carries them
// (tensors prefixed `ema.`, as written by the trainer's EMA callback).
import { rawToFloat32, type RawTensor, type SafetensorsFile } from '../safetensors.js';
import {
  EMA_PREFIXES,
  ModelFileError,
  checkFiniteWeights,
  selectWeights,
  validateModelMetadata,
  type ModelMetadata,
} from '../../model/model_metadata.js';
import { readModelFile } from '../../model/model_file.js';
import type { Weight } from './layers.js';
import type { NetworkConfig } from './network_config.js';
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

/** Interpret a safetensors checkpoint held in memory (metadata validated against its tensors). */
export function checkpointFrom(file: SafetensorsFile, source: string): LoadedCheckpoint {
  const { tensors: chosen, prefix } = selectWeights(file.tensors);
  let m: ModelMetadata;
  try {
    m = validateModelMetadata(file.metadata, chosen, source);
    checkFiniteWeights(chosen, source); // readModelFile does this for files
  } catch (e) {
    if (e instanceof ModelFileError) throw new CheckpointError(e.message);
    throw e;
  }
  return fromValidated(m, chosen, EMA_PREFIXES.includes(prefix), file.metadata);
}

function fromValidated(
  m: ModelMetadata,
  chosen: Map<string, RawTensor>,
  usedEma: boolean,
  metadata: Record<string, string>,
): LoadedCheckpoint {
  const tensors = new Map<string, Weight>();
  for (const [key, t] of chosen) {
    if (key.endsWith('num_batches_tracked')) continue;
    tensors.set(key, { data: rawToFloat32(t), shape: t.shape });
  }
  const config: NetworkConfig = m.config;
  return {
    config,
    rawConfig: m.rawConfig,
    labels: m.labels,
    preprocessing: m.preprocessing,
    weights: mapWeightSource(tensors),
    tensors,
    usedEma,
    metadata,
  };
}

/** Open a checkpoint file for export/inference (src/model/model_file.ts: refused by content when it
 *  is not one, metadata validated against the tensor shapes before the data is read). */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  let f;
  try {
    f = readModelFile(path);
  } catch (e) {
    if (e instanceof ModelFileError) throw new CheckpointError(e.message);
    throw e;
  }
  return fromValidated(f, f.weights, EMA_PREFIXES.includes(f.prefix), f.file.metadata);
}
