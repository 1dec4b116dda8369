// The slice of the model config the exporter needs (the same JSON keys as src/model's
// ModelConfig and tools/torch_ref/lipreader.py; the config travels in checkpoint metadata).

export interface StageRow {
  expand: number;
  kernel: number;
  stride: number;
  inChannels: number;
  outChannels: number;
  layers: number;
  se: boolean;
  fused: boolean;
}

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

/** EfficientNet channel rounding (DESIGN.md): multiple of 8, ≥ 8, never below 90 % of v. */
export function adjustChannels(v: number): number {
  let n = Math.max(8, Math.floor((v + 4) / 8) * 8);
  if (n < 0.9 * v) n += 8;
  return n;
}
