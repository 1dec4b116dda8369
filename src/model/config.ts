// The network as data (docs/design.md "The model"): stage tables of the EfficientNetV2 trunk, named
// variants T/S/B, and every other size as a config. The JSON form of ModelConfig travels in
// safetensors metadata ("config") and is shared with tools/torch_ref/lipreader.py and the
// ONNX exporter (src/io/onnx/network_config.ts), so keep the keys stable.

/** One row of a stage table: `[expand, kernel, stride, in, out, layers, se, fused]`. */
export interface StageRow {
  expand: number;
  kernel: number;
  stride: number;
  inChannels: number;
  outChannels: number;
  layers: number;
  /** squeeze-excite in MBConv blocks */
  se: boolean;
  /** fused-MBConv (k×k expand conv) instead of MBConv (1×1 + depthwise) */
  fused: boolean;
}

export interface TransformerConfig {
  /** encoder layers over time (post-norm); 0 disables the transformer */
  layers: number;
  heads: number;
  /** feed-forward width */
  ffn: number;
  dropout: number;
}

export interface TcnConfig {
  /** levels; level L has dilation 2^L */
  layers: number;
  width: number;
  kernel: number;
  dropout: number;
}

export type AttentionRegime = 'time' | 'self';
export const ATTENTION_REGIMES: readonly AttentionRegime[] = ['time', 'self'];
export type FrontendActivation = 'relu' | 'swish';
export const FRONTEND_ACTIVATIONS: readonly FrontendActivation[] = ['relu', 'swish'];

export interface ModelConfig {
  /** informational name: 'T', 'S', 'B' or 'custom' */
  variant: string;
  stages: StageRow[];
  classes: number;
  /** 1 grey, 3 colour (+1 with a word-boundary channel) */
  inChannels: number;
  /** MaxPool3d after the 3D conv (off: the paper's point) */
  frontendMaxPool: boolean;
  frontendActivation: FrontendActivation;
  /** per-frame feature size after the GLU (the 1×1 conv makes 2× this) */
  featureDim: number;
  transformer: TransformerConfig;
  /**
   * What each frame's attention sees: 'time' (every frame of its clip — eflip's network) or
   * 'self' (only itself: attention output = out_proj(v_proj(x)) per frame — what the reference
   * implementation computes at batch size 1, docs/design.md defect 1). No tensor depends on it.
   */
  attention: AttentionRegime;
  tcn: TcnConfig;
  /** dropout before the classifier; also the default of transformer.dropout and tcn.dropout */
  dropout: number;
  /** stochastic depth rate of the last trunk block (rises linearly from 0) */
  dropPath: number;
  /** BatchNorm momentum, PyTorch convention (new = (1-m)·old + m·batch) */
  bnMomentum: number;
  bnEps: number;
}

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/**
 * Sane bounds of every size, checked before anything is derived from a config (the config of a
 * model file is a stranger's input). Generous: the paper's largest network is far inside them;
 * a file's tensors must also match its config (src/model/model_metadata.ts).
 */
export const MODEL_LIMITS = {
  /** any channel count: stage in/out, featureDim, transformer ffn, TCN width */
  channels: 1 << 16,
  classes: 1 << 20,
  /** 1 grey, 2 grey + word boundary, 3 RGB, 4 RGB + word boundary */
  inChannels: 4,
  stages: 64,
  /** trunk blocks, all stages together */
  blocks: 1024,
  expand: 64,
  kernel: 15,
  stride: 4,
  transformerLayers: 256,
  tcnLayers: 24,
  /** parameters of the whole network (checked when one is built: 2^30 floats = 4 GiB) */
  parameters: 2 ** 30,
} as const;

/** The one form of a compact stage row, named in every refusal of one. */
export const STAGE_ROW_FORM = '"expand,kernel,stride,in,out,layers,F|M|N"';

/**
 * The one stage-row reader (model files, `eflip init`, the training config's model.stages):
 * compact rows "expand,kernel,stride,in,out,layers,F|M|N" (F fused, M MBConv+SE, N MBConv without
 * SE; commas or spaces between fields), lists `[expand, kernel, stride, in, out, layers, se, fused]`
 * or objects. Sizes are checked by validateModelConfig.
 */
export function parseStageRows(rows: readonly (string | StageRow | unknown[])[]): StageRow[] {
  if (!Array.isArray(rows))
    throw new ModelConfigError(
      `stages must be a list of rows, got ${JSON.stringify(rows)?.slice(0, 60)}`,
    );
  if (rows.length > MODEL_LIMITS.stages)
    throw new ModelConfigError(
      `model config: ${rows.length} stages (at most ${MODEL_LIMITS.stages})`,
    );
  return rows.map((r, i) => {
    if (typeof r === 'string') {
      const m =
        /^\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)[,\s]+(\d+)[,\s]+(\d+)[,\s]+(\d+)[,\s]+([FMN])\s*$/i.exec(
          r,
        );
      if (!m)
        throw new ModelConfigError(
          `stage row ${i} '${r.slice(0, 80)}': expected ${STAGE_ROW_FORM}`,
        );
      const [e, k, s, a, b, n] = m.slice(1, 7).map(Number);
      const kind = m[7].toUpperCase();
      return {
        expand: e,
        kernel: k,
        stride: s,
        inChannels: a,
        outChannels: b,
        layers: n,
        se: kind === 'M',
        fused: kind === 'F',
      };
    }
    if (Array.isArray(r)) {
      if (r.length !== 8)
        throw new ModelConfigError(
          `stage row ${i}: expected [expand, kernel, stride, in, out, layers, se, fused]`,
        );
      const [e, k, s, a, b, n, se, fused] = r;
      return {
        expand: Number(e),
        kernel: Number(k),
        stride: Number(s),
        inChannels: Number(a),
        outChannels: Number(b),
        layers: Number(n),
        se: !!se,
        fused: !!fused,
      };
    }
    if (r === null || typeof r !== 'object')
      throw new ModelConfigError(
        `stage row ${i}: expected a string, a list or an object, got ${JSON.stringify(r)?.slice(0, 60)}`,
      );
    const o = r as StageRow;
    return {
      expand: o.expand,
      kernel: o.kernel,
      stride: o.stride,
      inChannels: o.inChannels,
      outChannels: o.outChannels,
      layers: o.layers,
      se: o.se,
      fused: o.fused,
    };
  });
}

/** Named stage tables (docs/design.md). The paper's larger "L" is a config, not code. */
export const STAGE_TABLES: Record<string, StageRow[]> = {
  T: parseStageRows([
    '1,3,1,8,8,1 F',
    '4,3,2,8,16,2 F',
    '4,3,2,16,32,2 F',
    '4,3,2,32,56,3 M',
    '6,3,1,56,64,5 M',
    '6,3,2,64,112,8 M',
  ]),
  S: parseStageRows([
    '1,3,1,24,24,2 F',
    '4,3,2,24,48,4 F',
    '4,3,2,48,64,4 F',
    '4,3,2,64,128,6 M',
    '6,3,1,128,160,9 M',
    '6,3,2,160,256,15 M',
  ]),
  B: parseStageRows([
    '1,3,1,24,24,1 F',
    '4,3,2,24,32,2 F',
    '4,3,2,32,48,2 F',
    '4,3,2,48,96,3 M',
    '6,3,1,96,112,5 M',
    '6,3,2,112,192,8 M',
  ]),
};

export const VARIANTS = Object.keys(STAGE_TABLES);

/** The variant of a config that names neither a variant nor stages. */
export const DEFAULT_VARIANT = 'T';

/**
 * Defaults shared by every variant: the one source of model defaults (`new LipReaderNet()`,
 * `eflip init` and the training config's model section all take them from here). The reference
 * training recipe (docs/design.md): dropout 0.4, which the reference network applies before the
 * classifier, inside the transformer layer and inside the TCN alike; stochastic depth 0.2 on the
 * last trunk block (EfficientNetV2's rate, which the reference computed but never applied — defect
 * 5, fixed here); BatchNorm momentum 0.01 in PyTorch's convention (defect 4, fixed). Dropout and
 * drop-path act in training only: inference does not depend on them.
 */
export const MODEL_DEFAULTS: Omit<ModelConfig, 'variant' | 'stages'> = {
  classes: 500,
  inChannels: 1,
  frontendMaxPool: false,
  frontendActivation: 'relu',
  featureDim: 384,
  transformer: { layers: 1, heads: 8, ffn: 128, dropout: 0.4 },
  attention: 'time',
  tcn: { layers: 4, width: 463, kernel: 3, dropout: 0.4 },
  dropout: 0.4,
  dropPath: 0.2,
  bnMomentum: 0.01,
  bnEps: 1e-5,
};

export type ModelConfigInput = Partial<Omit<ModelConfig, 'transformer' | 'tcn' | 'stages'>> & {
  transformer?: Partial<TransformerConfig>;
  tcn?: Partial<TcnConfig>;
  stages?: readonly (string | StageRow | unknown[])[];
};

/**
 * A complete, validated config: a named variant's table (or `stages` given explicitly) plus
 * defaults for every key not set. Unknown keys are rejected.
 */
export function modelConfig(input: ModelConfigInput = {}): ModelConfig {
  const known = new Set([...Object.keys(MODEL_DEFAULTS), 'variant', 'stages']);
  for (const k of Object.keys(input)) {
    if (!known.has(k))
      throw new ModelConfigError(
        `unknown model config key '${k}' (known: ${[...known].join(', ')})`,
      );
  }
  if (input.variant !== undefined && typeof input.variant !== 'string')
    throw new ModelConfigError(
      `model config: variant must be a string, got ${JSON.stringify(input.variant)?.slice(0, 60)}`,
    );
  for (const k of ['transformer', 'tcn'] as const) {
    const v = input[k];
    if (v === undefined) continue;
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new ModelConfigError(
        `model config: ${k} must be an object, got ${JSON.stringify(v)?.slice(0, 60)}`,
      );
    for (const kk of Object.keys(v))
      if (!(kk in MODEL_DEFAULTS[k]))
        throw new ModelConfigError(
          `unknown model config key '${k}.${kk}' (known: ${Object.keys(MODEL_DEFAULTS[k]).join(', ')})`,
        );
  }
  const variant = input.variant ?? (input.stages ? 'custom' : DEFAULT_VARIANT);
  let stages: StageRow[];
  if (input.stages) stages = parseStageRows(input.stages);
  else {
    const t = STAGE_TABLES[variant.toUpperCase()];
    if (!t)
      throw new ModelConfigError(
        `unknown variant '${variant}' (known: ${VARIANTS.join(', ')}; or give stages)`,
      );
    stages = parseStageRows(t);
  }
  // a named variant is its stage table: other stages make the network custom, whatever it is called
  const named = input.stages ? STAGE_TABLES[variant.toUpperCase()] : undefined;
  const label = !input.stages
    ? variant.toUpperCase()
    : named && JSON.stringify(parseStageRows(named)) !== JSON.stringify(stages)
      ? 'custom'
      : variant;
  const cfg: ModelConfig = {
    ...MODEL_DEFAULTS,
    ...input,
    variant: label,
    stages,
    transformer: {
      ...MODEL_DEFAULTS.transformer,
      ...(input.dropout !== undefined ? { dropout: input.dropout } : {}),
      ...(input.transformer ?? {}),
    },
    tcn: {
      ...MODEL_DEFAULTS.tcn,
      ...(input.dropout !== undefined ? { dropout: input.dropout } : {}),
      ...(input.tcn ?? {}),
    },
  };
  validateModelConfig(cfg);
  return cfg;
}

/** Parse the JSON config stored in a checkpoint's metadata (missing keys take defaults). */
export function modelConfigFromJson(text: string): ModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(`model config is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ModelConfigError('model config must be a JSON object');
  return modelConfig(raw as ModelConfigInput);
}

export function validateModelConfig(c: ModelConfig): void {
  const bad = (msg: string) => {
    throw new ModelConfigError(`model config: ${msg}`);
  };
  const posInt = (v: unknown, what: string, max?: number) => {
    if (!Number.isInteger(v) || (v as number) < 1)
      bad(`${what} must be a positive integer, got ${JSON.stringify(v)?.slice(0, 60)}`);
    if (max !== undefined && (v as number) > max) bad(`${what} = ${v} is beyond the limit ${max}`);
  };
  const rate = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !(v >= 0 && v < 1))
      bad(`${what} must be in [0, 1), got ${JSON.stringify(v)}`);
  };
  if (!Array.isArray(c.stages) || c.stages.length === 0) bad('stages must be a non-empty table');
  if (c.stages.length > MODEL_LIMITS.stages)
    bad(`${c.stages.length} stages (at most ${MODEL_LIMITS.stages})`);
  const L = MODEL_LIMITS;
  let blocks = 0;
  c.stages.forEach((r, i) => {
    posInt(r.expand, `stages[${i}].expand`, L.expand);
    posInt(r.kernel, `stages[${i}].kernel`, L.kernel);
    posInt(r.stride, `stages[${i}].stride`, L.stride);
    posInt(r.inChannels, `stages[${i}].inChannels`, L.channels);
    posInt(r.outChannels, `stages[${i}].outChannels`, L.channels);
    posInt(r.layers, `stages[${i}].layers`, L.blocks);
    if (typeof r.se !== 'boolean' || typeof r.fused !== 'boolean')
      bad(`stages[${i}].se and .fused must be true or false`);
    blocks += r.layers;
    if (r.kernel % 2 !== 1) bad(`stages[${i}].kernel must be odd (same padding), got ${r.kernel}`);
    if (i > 0 && r.inChannels !== c.stages[i - 1].outChannels)
      bad(
        `stages[${i}].inChannels ${r.inChannels} != previous outChannels ${c.stages[i - 1].outChannels}`,
      );
  });
  if (blocks > L.blocks) bad(`${blocks} trunk blocks in all stages (at most ${L.blocks})`);
  posInt(c.classes, 'classes', L.classes);
  posInt(c.inChannels, 'inChannels', L.inChannels);
  posInt(c.featureDim, 'featureDim', L.channels);
  if (!FRONTEND_ACTIVATIONS.includes(c.frontendActivation))
    bad(
      `frontendActivation must be ${FRONTEND_ACTIVATIONS.join(' or ')}, got ${JSON.stringify(c.frontendActivation)?.slice(0, 60)}`,
    );
  if (typeof c.frontendMaxPool !== 'boolean') bad('frontendMaxPool must be true or false');
  if (!ATTENTION_REGIMES.includes(c.attention))
    bad(
      `attention must be ${ATTENTION_REGIMES.join(' or ')}, got ${JSON.stringify(c.attention)?.slice(0, 60)}`,
    );
  if (!Number.isInteger(c.transformer.layers) || c.transformer.layers < 0)
    bad('transformer.layers must be an integer >= 0');
  if (c.transformer.layers > L.transformerLayers)
    bad(`transformer.layers = ${c.transformer.layers} is beyond the limit ${L.transformerLayers}`);
  posInt(c.transformer.heads, 'transformer.heads', L.channels);
  posInt(c.transformer.ffn, 'transformer.ffn', L.channels);
  if (c.featureDim % c.transformer.heads !== 0)
    bad(`transformer.heads (${c.transformer.heads}) must divide featureDim (${c.featureDim})`);
  posInt(c.tcn.layers, 'tcn.layers', L.tcnLayers);
  posInt(c.tcn.width, 'tcn.width', L.channels);
  posInt(c.tcn.kernel, 'tcn.kernel', L.kernel);
  if (c.tcn.kernel % 2 !== 1) bad(`tcn.kernel must be odd, got ${c.tcn.kernel}`);
  rate(c.transformer.dropout, 'transformer.dropout');
  rate(c.tcn.dropout, 'tcn.dropout');
  rate(c.dropout, 'dropout');
  rate(c.dropPath, 'dropPath');
  if (typeof c.bnMomentum !== 'number' || !(c.bnMomentum >= 0 && c.bnMomentum <= 1))
    bad('bnMomentum must be in [0, 1]');
  if (typeof c.bnEps !== 'number' || !(c.bnEps > 0 && c.bnEps < 1)) bad('bnEps must be in (0, 1)');
}

/** EfficientNet channel rounding (docs/design.md): multiple of 8, ≥ 8, never below 90 % of v. */
export function adjustChannels(v: number): number {
  let n = Math.max(8, Math.floor((v + 4) / 8) * 8);
  if (n < 0.9 * v) n += 8;
  return n;
}

/** Output length of a conv/pool along one axis (PyTorch's formula, dilation 1). */
export const convOut = (n: number, k: number, stride: number, pad: number): number =>
  Math.floor((n + 2 * pad - k) / stride) + 1;

/** One trunk block, expanded from the stage table (first block of a stage: row stride and in→out). */
export interface BlockSpec {
  index: number;
  fused: boolean;
  se: boolean;
  expand: number;
  kernel: number;
  stride: number;
  inChannels: number;
  outChannels: number;
  /** hidden width adjust(in·expand) */
  inter: number;
  /** squeeze-excite width inter // (4·expand) */
  squeeze: number;
  residual: boolean;
  /** stochastic-depth rate: dropPath · index / total */
  dropPath: number;
}

export function blockSpecs(c: ModelConfig): BlockSpec[] {
  const total = c.stages.reduce((s, r) => s + r.layers, 0);
  const out: BlockSpec[] = [];
  for (const r of c.stages) {
    for (let j = 0; j < r.layers; j++) {
      const inC = j === 0 ? r.inChannels : r.outChannels;
      const stride = j === 0 ? r.stride : 1;
      const inter = adjustChannels(inC * r.expand);
      const index = out.length;
      out.push({
        index,
        fused: r.fused,
        se: r.se && !r.fused,
        expand: r.expand,
        kernel: r.kernel,
        stride,
        inChannels: inC,
        outChannels: r.outChannels,
        inter,
        squeeze: Math.floor(inter / (4 * r.expand)),
        residual: stride === 1 && inC === r.outChannels,
        dropPath: (c.dropPath * index) / total,
      });
    }
  }
  return out;
}
