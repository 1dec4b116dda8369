// LipReader over libtorch (src/engine + src/model). Placeholder until the model lands.
import { ModelLoadError } from './types.js';
import type { LoadOptions } from './load_node.js';
import type { LipReader } from './types.js';

export class TorchLipReader {
  static async load(path: string, _o: LoadOptions = {}): Promise<LipReader> {
    throw new ModelLoadError(`${path}: the libtorch runtime is not available in this build yet (use --runtime onnx)`);
  }
}
