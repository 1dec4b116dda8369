// The slice of the model config the exporter needs (the same JSON keys as src/model's
// ModelConfig and tools/torch_ref/lipreader.py; the config travels in checkpoint metadata).

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
  tcn: { layers: number; width: number; kernel: number };
  bnEps: number;
}

export class ExportConfigError extends Error {
  override name = 'ExportConfigError';
}

/** Validate a parsed config object (from checkpoint metadata) for export. */
export function checkNetworkConfig(c: any): NetworkConfig {
  const need = (cond: boolean, what: string) => {
    if (!cond) throw new ExportConfigError(`model config: ${what}`);
  };
  need(c !== null && typeof c === 'object', 'not an object');
  need(Array.isArray(c.stages) && c.stages.length > 0, 'stages must be a non-empty list of rows');
  for (const r of c.stages) {
    for (const k of ['expand', 'kernel', 'stride', 'inChannels', 'outChannels', 'layers']) need(Number.isInteger(r[k]) && r[k] > 0, `stage row field ${k} must be a positive integer`);
  }
  need(Number.isInteger(c.classes) && c.classes > 0, 'classes must be a positive integer');
  need(Number.isInteger(c.featureDim) && c.featureDim > 0, 'featureDim must be a positive integer');
  need(c.transformer && Number.isInteger(c.transformer.heads) && c.featureDim % c.transformer.heads === 0, 'transformer.heads must divide featureDim');
  need(c.tcn && Number.isInteger(c.tcn.width) && Number.isInteger(c.tcn.layers) && Number.isInteger(c.tcn.kernel), 'tcn.{width,layers,kernel} must be integers');
  return {
    ...c,
    inChannels: c.inChannels ?? 1,
    frontendMaxPool: !!c.frontendMaxPool,
    frontendActivation: c.frontendActivation === 'swish' ? 'swish' : 'relu',
    transformer: { layers: c.transformer.layers ?? 1, heads: c.transformer.heads, ffn: c.transformer.ffn },
    bnEps: c.bnEps ?? 1e-5,
  };
}
