// The LipReader interface shared by every inference backend (libtorch, onnxruntime-node,
// onnxruntime-web), plus the clip type and typed errors.
import type { Preprocessing } from '../io/onnx/preprocessing.js';

export type { Preprocessing };

/** A pre-processed clip: normalised float frames, (channels, frames, size, size) in C order. */
export interface Clip {
  data: Float32Array;
  frames: number;
  channels: number;
  /** square side (height = width = size) */
  size: number;
  /** frame rate, when known (for timelines) */
  fps?: number;
}

export interface TopKEntry {
  index: number;
  label: string;
  probability: number;
  logProb: number;
}

export type RuntimeName = 'onnx' | 'torch';

export interface LipReader {
  readonly runtime: RuntimeName;
  /** execution provider or device actually used, e.g. 'cpu', 'cuda', 'wasm' */
  readonly device: string;
  readonly labels: readonly string[];
  readonly preprocessing: Preprocessing;
  /** input channels the network expects (1 = grey) */
  readonly channels: number;
  /** front-end lanes (threads each running part of a clip's front-end) in use; 0: none (the
   *  torch runtime, small models, one core, or lanes that failed to start) */
  readonly frontendLanes: number;
  /** log-probabilities (classes) of one clip */
  predictClip(clip: Clip): Promise<Float32Array>;
  /** log-probabilities of each clip; clips of equal length run as one batch */
  predictBatch(clips: Clip[]): Promise<Float32Array[]>;
  /** most probable labels of a log-probability vector */
  topK(logProbs: Float32Array, k?: number): TopKEntry[];
  dispose(): Promise<void>;
}

/** The input cannot be run (wrong size/channels, no frames, NaN pixels). */
export class InferenceInputError extends Error {
  override name = 'InferenceInputError';
}

/** A call on a reader after its dispose() (or one whose run dispose() cut short). */
export class ReaderDisposedError extends Error {
  override name = 'ReaderDisposedError';
  constructor() {
    super('this lip reader was disposed; open another');
  }
}

/** The model file cannot be loaded (missing, truncated, corrupt, wrong kind). */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}
