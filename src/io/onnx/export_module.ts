// Export a live LipReaderNet (src/model) — current weights, no file round trip. The module tree
// is walked first against a table of the module classes the ONNX emitters cover (and which
// emitter covers each), so a module type added to the network later fails loudly here instead
// of being silently skipped. Weights then go through the same emitters as checkpoints.
import type { LipReaderNet } from '../../model/lipreader.js';
import { stateDictEntries } from '../../model/weights.js';
import { checkpointFrom, type LoadedCheckpoint } from './checkpoint_weights.js';
import { DEFAULT_PREPROCESSING, type Preprocessing } from './preprocessing.js';
import { exportOnnx } from './export_model.js';
import type { GraphKind } from './network_graph.js';

/** Module class → the emitter in ./network_graph.ts (and ./layers.ts) that produces its nodes. */
export const MODULE_EMITTERS: Record<string, string> = {
  LipReaderNet: 'emitNetwork',
  Frontend3D: 'frontend',
  Sequential: '(container: children emitted in order)',
  Conv3d: 'convBn (BN folded)',
  BatchNorm3d: 'foldBatchNorm into the preceding Conv3d',
  ReLU: 'Relu',
  SiLU: 'silu (Sigmoid·Mul)',
  MaxPool3d: 'MaxPool',
  EfficientNetV2: 'frontend (block loop)',
  EfficientBlock: 'efficientBlock',
  Conv2d: 'convBnAct / conv',
  BatchNorm2d: 'foldBatchNorm into the preceding Conv2d',
  DropPath: '(identity at inference)',
  SqueezeExcite: 'efficientBlock (GlobalAveragePool, fc1, SiLU, fc2, Sigmoid, Mul)',
  Stage7: 'frontend (pointwise, GlobalAveragePool, glu)',
  TransformerStack: 'backend (encoder layer loop)',
  ModuleList: '(container)',
  TransformerEncoderLayer: 'encoderLayer (post-norm)',
  MultiheadAttention: 'selfAttention',
  Linear: 'linear',
  LayerNorm: 'layerNorm',
  Tcn: 'backend (TCN layer loop)',
  TcnLayer: 'tcnLayer',
  Conv1d: 'convBn / conv',
  BatchNorm1d: 'foldBatchNorm into the preceding Conv1d',
  PReLU: 'prelu',
  Dropout: '(identity at inference)',
  Identity: '(identity)',
};

export class UnsupportedModuleError extends Error {
  override name = 'UnsupportedModuleError';
}

/** Check every module of the tree has an emitter; returns the class → count census. */
export function checkModuleTree(net: LipReaderNet): Map<string, number> {
  const census = new Map<string, number>();
  for (const [name, m] of net.namedModules()) {
    const cls = m.constructor.name;
    if (!(cls in MODULE_EMITTERS))
      throw new UnsupportedModuleError(
        `ONNX export: module '${name || '(root)'}' of class ${cls} has no ONNX emitter`,
      );
    census.set(cls, (census.get(cls) ?? 0) + 1);
  }
  return census;
}

export interface ModuleExportOptions {
  labels?: string[];
  preprocessing?: Preprocessing;
}

/** A live network as a LoadedCheckpoint (its current weights and buffers). */
export function checkpointFromModule(
  net: LipReaderNet,
  o: ModuleExportOptions = {},
): LoadedCheckpoint {
  checkModuleTree(net);
  const tensors = new Map(stateDictEntries(net));
  const metadata: Record<string, string> = {
    config: JSON.stringify(net.config),
    preprocessing: JSON.stringify(o.preprocessing ?? DEFAULT_PREPROCESSING),
  };
  if (o.labels) metadata.labels = JSON.stringify(o.labels);
  return checkpointFrom({ tensors, metadata }, `${net.config.variant ?? 'custom'} network`);
}

/** ONNX bytes of a live network. */
export function exportModule(
  net: LipReaderNet,
  kind: GraphKind = 'full',
  o: ModuleExportOptions = {},
): Uint8Array {
  return exportOnnx(checkpointFromModule(net, o), kind);
}
