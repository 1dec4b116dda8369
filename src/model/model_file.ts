// Opening a model file that may come from anyone, in the order that keeps a hostile file cheap:
// what the file is (by content: a PyTorch checkpoint, a video, a text file are named and refused),
// the safetensors header (bounded, offsets checked), the model metadata validated against the
// stored tensor shapes (src/model/model_metadata.ts) — and only then the tensor data read.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import {
  readSafetensorsData,
  readSafetensorsHeader,
  SafetensorsError,
  type RawTensor,
  type SafetensorsFile,
  type SafetensorsHeader,
  type TensorEntry,
} from '../io/safetensors.js';
import { SNIFF_BYTES, sniffFileKind, type FileKindInfo } from '../io/file_kind.js';
import {
  checkFiniteWeights,
  ModelFileError,
  selectWeights,
  validateModelMetadata,
  type ModelMetadata,
} from './model_metadata.js';
import type { ModelConfigInput } from './config.js';

/** What the file at `path` is, from its first bytes; a missing path or a directory is refused. */
export function fileKindOf(path: string): FileKindInfo {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ModelFileError(`${path}: is a directory, not a model file`);
    if (!st.isFile()) throw new ModelFileError(`${path}: not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(
      code === 'ENOENT'
        ? `${path}: no such model file`
        : `cannot read ${path}: ${(e as Error).message}`,
    );
  }
  const head = new Uint8Array(Math.min(SNIFF_BYTES, size));
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    readSync(fd, head, 0, head.length, 0);
  } catch (e) {
    throw new ModelFileError(`cannot read ${path}: ${(e as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return sniffFileKind(head, size);
}

/** The one-line refusal for a file that is not what a command needs (`needs`: what it takes). */
export function notAModel(
  path: string,
  k: FileKindInfo,
  needs = 'an eflip model (.safetensors)',
): ModelFileError {
  if (k.kind === 'pytorch-pickle')
    // eflip import reads only the zip format (torch_checkpoint.ts): the file needs re-saving first
    return new ModelFileError(
      `${path} is ${k.what}, not an eflip model, and \`eflip import\` reads only PyTorch >= 1.6 zip checkpoints: ` +
        `re-save it with torch.save(torch.load(path), path) in PyTorch >= 1.6, then run \`eflip import ${path} --out model.safetensors\``,
    );
  if (k.kind === 'pytorch-zip') {
    return new ModelFileError(
      `${path} is ${k.what}, not an eflip model: convert it first with \`eflip import ${path} --out model.safetensors\``,
    );
  }
  if (k.kind === 'onnx')
    return new ModelFileError(
      `${path} is an ONNX model; this needs ${needs} (export goes from a checkpoint to ONNX, not back)`,
    );
  return new ModelFileError(`${path} is ${k.what}, not ${needs}`);
}

export interface OpenedModelFile extends ModelMetadata {
  /** every tensor of the file, as stored (training checkpoints: model.*, ema.*, optim.*) */
  file: SafetensorsFile;
  /** the chosen weight set, names without prefix */
  weights: Map<string, RawTensor>;
  /** its prefix: 'ema.' (or another EMA prefix), 'model.' or '' */
  prefix: string;
}

/** The checked header of a safetensors model file (refused by content when it is something else). */
export function readModelHeader(path: string): SafetensorsHeader {
  const k = fileKindOf(path);
  // unknown bytes named .safetensors: the header parser says what is wrong with them
  if (k.kind !== 'safetensors' && !(k.kind === 'unknown' && path.endsWith('.safetensors')))
    throw notAModel(path, k);
  try {
    return readSafetensorsHeader(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFileError(e.message);
    throw e;
  }
}

/** Header + metadata validated against the chosen weight set's shapes; no tensor data read. */
export function checkModelHeader(
  path: string,
  opts: { ema?: boolean; config?: ModelConfigInput } = {},
): { header: SafetensorsHeader; meta: ModelMetadata; prefix: string } {
  const header = readModelHeader(path);
  const { tensors, prefix } = selectWeights<TensorEntry>(header.entries, opts);
  const meta = validateModelMetadata(header.metadata, tensors, path, { config: opts.config });
  return { header, meta, prefix };
}

/** Open a model file or training checkpoint: validated metadata, then the weights. */
export function readModelFile(
  path: string,
  opts: { ema?: boolean; config?: ModelConfigInput } = {},
): OpenedModelFile {
  const { header, meta, prefix } = checkModelHeader(path, opts);
  const file = readData(path, header);
  const weights = selectWeights(file.tensors, opts).tensors;
  checkFiniteWeights(weights, path);
  return { ...meta, file, weights, prefix };
}

/**
 * Weights to fine-tune from: a model file or checkpoint (validated as readModelFile does), or a
 * bare state dict without eflip metadata (no config to check it against: the container checks
 * apply, and the network it loads into checks every shape).
 */
export function readPretrainedWeights(path: string): {
  weights: Map<string, RawTensor>;
  prefix: string;
} {
  const header = readModelHeader(path);
  const hasMeta = Object.keys(header.metadata).some(
    (k) => k === 'config' || k === 'labels' || k === 'preprocessing',
  );
  const { tensors, prefix } = selectWeights<TensorEntry>(header.entries);
  if (hasMeta) validateModelMetadata(header.metadata, tensors, path);
  else if (!tensors.size) throw new ModelFileError(`${path}: the file holds no weights`);
  const file = readData(path, header);
  const weights = selectWeights(file.tensors).tensors;
  checkFiniteWeights(weights, path);
  return { weights, prefix };
}

/** The tensor data of a file whose header passed the checks; a data-section problem is a ModelFileError. */
function readData(
  path: string,
  header: Parameters<typeof readSafetensorsData>[1],
): SafetensorsFile {
  try {
    return readSafetensorsData(path, header);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFileError(e.message);
    throw e;
  }
}
