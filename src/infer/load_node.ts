// Node entry: open a LipReader from a path — an exported .onnx file or an eflip checkpoint
// (.safetensors) — on the onnxruntime or libtorch runtime.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { loadCheckpoint } from '../io/onnx/checkpoint_weights.js';
import { OnnxFileError } from '../io/onnx/onnx_reader.js';
import { nodePlatform, type NodeDevice } from './ort_node.js';
import { OnnxLipReader } from './onnx_lipreader.js';
import { bytesSource, checkpointSource, type OnnxModelSource } from './onnx_model_source.js';
import { ModelLoadError, type LipReader, type RuntimeName } from './types.js';
import { LRW_WORDS_DEFAULT } from './labels.js';
import type { FeatureRunner } from './feature_runner.js';

export interface LoadOptions {
  runtime?: RuntimeName;
  device?: NodeDevice;
  /** intra-op threads (default: runtime's choice) */
  threads?: number;
}

function readModelFile(path: string): Uint8Array {
  if (!existsSync(path)) throw new ModelLoadError(`${path}: no such model file`);
  if (!statSync(path).isFile()) throw new ModelLoadError(`${path}: not a file`);
  return readFileSync(path);
}

/** The ONNX graphs for a path: an .onnx file (+ siblings X.frontend.onnx / X.backend.onnx), or a checkpoint. */
export function onnxSourceFor(path: string): OnnxModelSource {
  const bytes = readModelFile(path);
  const isOnnx = path.endsWith('.onnx') || !(bytes.length >= 8 && bytes[8] === 0x7b); // safetensors header starts with '{'
  try {
    if (isOnnx) {
      const base = path.replace(/\.onnx$/, '');
      const sibling = (p: 'frontend' | 'backend') => async () => {
        const file = `${base}.${p}.onnx`;
        if (!existsSync(file)) throw new ModelLoadError(`${file}: no such model file (streaming an .onnx model needs the pair written by \`eflip export --features\`, or use the .safetensors checkpoint)`);
        return readModelFile(file);
      };
      return bytesSource(bytes, path, { frontend: sibling('frontend'), backend: sibling('backend') });
    }
    return checkpointSource(loadCheckpoint(path, LRW_WORDS_DEFAULT()), path);
  } catch (e) {
    if (e instanceof OnnxFileError) throw new ModelLoadError(e.message);
    if (e instanceof ModelLoadError) throw e;
    throw new ModelLoadError(`${path}: ${(e as Error).message}`);
  }
}

export async function loadOnnxLipReader(path: string, o: LoadOptions = {}): Promise<OnnxLipReader> {
  return OnnxLipReader.open(await nodePlatform(o.device ?? 'auto', o.threads), onnxSourceFor(path));
}

/** Open a LipReader: runtime 'onnx' (default) or 'torch' (libtorch; needs a checkpoint).
 *  Both also implement FeatureRunner (the halves used by streaming). */
export async function loadLipReader(path: string, o: LoadOptions = {}): Promise<LipReader & FeatureRunner> {
  if ((o.runtime ?? 'onnx') === 'onnx') return loadOnnxLipReader(path, o);
  if (path.endsWith('.onnx')) throw new ModelLoadError(`${path}: the torch runtime needs a checkpoint (.safetensors), not an ONNX file`);
  const { TorchLipReader } = await import('./torch_lipreader.js');
  return TorchLipReader.load(path, o);
}
