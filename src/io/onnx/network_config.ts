// The slice of the model config the exporter needs (the same JSON keys as src/model's
// ModelConfig and tools/torch_ref/lipreader.py; the config travels in checkpoint metadata and
// is validated, with the file's tensors, by src/model/model_metadata.ts).

import type { StageRow } from '../../model/config.js';
export { adjustChannels, convOut } from '../../model/config.js';
export type { StageRow };

export interface NetworkConfig {
  variant?: string;
  stages: StageRow[];
  classes: number;
  inChannels: number;
  frontendMaxPool: boolean;
  frontendActivation: 'relu' | 'swish';
  featureDim: number;
  transformer: { layers: number; heads: number; ffn: number };
  /** 'self': each frame attends only to itself (absent: 'time') */
  attention?: 'time' | 'self';
  tcn: { layers: number; width: number; kernel: number };
  bnEps: number;
}
