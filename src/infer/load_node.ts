// Node entry: open a LipReader from a path — an exported .onnx file or an eflip checkpoint
// (.safetensors) — on the onnxruntime or libtorch runtime.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { CheckpointError, loadCheckpoint } from '../io/onnx/checkpoint_weights.js';
import { fileKindOf, notAModel } from '../model/model_file.js';
import { OnnxFileError } from '../io/onnx/onnx_reader.js';
import { nodePlatform, type NodeDevice } from './ort_node.js';
import { OnnxLipReader } from './onnx_lipreader.js';
import { bytesSource, checkpointSource, type OnnxModelSource } from './onnx_model_source.js';
import { ModelLoadError, type LipReader, type RuntimeName } from './types.js';
import type { FeatureRunner } from './feature_runner.js';

export interface LoadOptions {
  runtime?: RuntimeName;
  device?: NodeDevice;
  /** intra-op threads (default: runtime's choice) */
  threads?: number;
}

function readOnnxBytes(path: string): Uint8Array {
  if (!existsSync(path)) throw new ModelLoadError(`${path}: no such model file`);
  if (!statSync(path).isFile()) throw new ModelLoadError(`${path}: not a file`);
  return readFileSync(path);
}

/** What a model path holds, by content: 'onnx' or 'checkpoint' (anything else is refused, named). */
export function modelKindOf(path: string): 'onnx' | 'checkpoint' {
  let k;
  try {
    k = fileKindOf(path);
  } catch (e) {
    throw new ModelLoadError((e as Error).message);
  }
  if (k.kind === 'safetensors' || (k.kind === 'unknown' && path.endsWith('.safetensors')))
    return 'checkpoint';
  // an unknown binary named .onnx: the ONNX reader says what is wrong with it
  if (k.kind === 'onnx' || (k.kind === 'unknown' && path.endsWith('.onnx'))) return 'onnx';
  throw new ModelLoadError(
    notAModel(path, k, 'an eflip model (.onnx from `eflip export`, or a .safetensors checkpoint)')
      .message,
  );
}

/** The ONNX graphs for a path: an .onnx file (+ siblings X.frontend.onnx / X.backend.onnx), or a checkpoint. */
export function onnxSourceFor(path: string): OnnxModelSource {
  const kind = modelKindOf(path);
  try {
    if (kind === 'onnx') {
      const bytes = readOnnxBytes(path);
      const base = path.replace(/\.onnx$/, '');
      const sibling = (p: 'frontend' | 'backend') => async () => {
        const file = `${base}.${p}.onnx`;
        if (!existsSync(file))
          throw new ModelLoadError(
            `${file}: no such model file (streaming an .onnx model needs the pair written by \`eflip export --features\`, or use the .safetensors checkpoint)`,
          );
        return readOnnxBytes(file);
      };
      return bytesSource(bytes, path, {
        frontend: sibling('frontend'),
        backend: sibling('backend'),
      });
    }
    return checkpointSource(loadCheckpoint(path), path);
  } catch (e) {
    if (e instanceof OnnxFileError) throw new ModelLoadError(e.message);
    if (e instanceof ModelLoadError) throw e;
    if (e instanceof CheckpointError) throw new ModelLoadError(e.message);
    throw new ModelLoadError(`${path}: ${(e as Error).message}`);
  }
}

export async function loadOnnxLipReader(path: string, o: LoadOptions = {}): Promise<OnnxLipReader> {
  return OnnxLipReader.open(await nodePlatform(o.device ?? 'auto', o.threads), onnxSourceFor(path));
}

/** Open a LipReader: runtime 'onnx' (default) or 'torch' (libtorch; needs a checkpoint).
 *  Both also implement FeatureRunner (the halves used by streaming). */
export async function loadLipReader(
  path: string,
  o: LoadOptions = {},
): Promise<LipReader & FeatureRunner> {
  // an unknown value must not fall through to another runtime or device ('tf' ran libtorch)
  if (o.runtime !== undefined && o.runtime !== 'onnx' && o.runtime !== 'torch')
    throw new ModelLoadError(`runtime must be onnx or torch, got ${JSON.stringify(o.runtime)}`);
  if (o.device !== undefined && !['auto', 'cpu', 'cuda'].includes(o.device))
    throw new ModelLoadError(`device must be auto, cpu or cuda, got ${JSON.stringify(o.device)}`);
  if ((o.runtime ?? 'onnx') === 'onnx') return loadOnnxLipReader(path, o);
  if (modelKindOf(path) === 'onnx')
    throw new ModelLoadError(
      `${path}: the torch runtime needs a checkpoint (.safetensors), not an ONNX file`,
    );
  const { TorchLipReader } = await import('./torch_lipreader.js');
  return TorchLipReader.load(path, o);
}
