// The training config's model section: its keys, their defaults and their validation, all taken
// from src/model/config.ts (MODEL_DEFAULTS, parseStageRows, validateModelConfig: the one source of
// model defaults and model rules), and the section → src/model's ModelConfig (the JSON that
// travels in checkpoints as metadata "config").
import {
  ATTENTION_REGIMES,
  DEFAULT_VARIANT,
  FRONTEND_ACTIVATIONS,
  MODEL_DEFAULTS,
  STAGE_ROW_FORM,
  modelConfig,
  type ModelConfig,
  type ModelConfigInput,
} from '../model/config.js';
import { ConfigError, type Leaf, type Section } from './config_schema.js';

export interface ModelSection {
  variant: string;
  stages: string[] | null;
  classes: number | null;
  in_channels: number;
  dropout: number;
  /** null: model.dropout (as in src/model/config.ts) */
  transformer_dropout: number | null;
  /** null: model.dropout */
  tcn_dropout: number | null;
  feature_dim: number;
  drop_path: number;
  bn_momentum: number;
  frontend_maxpool: boolean;
  activation: 'relu' | 'swish';
  transformer_layers: number;
  transformer_heads: number;
  transformer_ffn: number;
  attention: 'time' | 'self';
  tcn_layers: number;
  tcn_channels: number;
  tcn_kernel: number;
}

/** Config key (under model.) → its ModelConfig path; the keys whose value passes through unchanged. */
const MODEL_PATHS: [keyof ModelSection, string][] = [
  ['dropout', 'dropout'],
  ['transformer_dropout', 'transformer.dropout'],
  ['tcn_dropout', 'tcn.dropout'],
  ['feature_dim', 'featureDim'],
  ['drop_path', 'dropPath'],
  ['bn_momentum', 'bnMomentum'],
  ['frontend_maxpool', 'frontendMaxPool'],
  ['activation', 'frontendActivation'],
  ['transformer_layers', 'transformer.layers'],
  ['transformer_heads', 'transformer.heads'],
  ['transformer_ffn', 'transformer.ffn'],
  ['attention', 'attention'],
  ['tcn_layers', 'tcn.layers'],
  ['tcn_channels', 'tcn.width'],
  ['tcn_kernel', 'tcn.kernel'],
];

const getAt = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], o);

function setAt(o: Record<string, unknown>, path: string, v: unknown): void {
  const parts = path.split('.');
  let t = o;
  for (const p of parts.slice(0, -1)) t = (t[p] ??= {}) as Record<string, unknown>;
  t[parts[parts.length - 1]] = v;
}

/** ModelConfig numbers that are rates, not counts. */
const REAL_PATHS = ['dropout', 'dropPath', 'bnMomentum'];

/** A leaf whose default is MODEL_DEFAULTS' value at `path`; ranges are validateModelConfig's. */
function modelLeaf(path: string, help: string, extra: Partial<Leaf> = {}): Leaf {
  const d = getAt(MODEL_DEFAULTS, path);
  const kind = typeof d === 'boolean' ? 'boolean' : typeof d === 'string' ? 'string' : 'number';
  return {
    kind: kind === 'number' && !REAL_PATHS.includes(path) ? 'int' : kind,
    default: d as Leaf['default'],
    help,
    ...extra,
  };
}

/** The schema of the model section (src/train/config.ts SCHEMA.model). */
export const MODEL_SCHEMA: Section = {
  variant: {
    kind: 'string',
    default: DEFAULT_VARIANT,
    help: 'named variant (T, S, B, ...) or "custom" with model.stages',
  },
  stages: {
    kind: 'strings',
    default: null,
    nullable: true,
    help: `custom stage table rows ${STAGE_ROW_FORM} (F fused, M MBConv+SE, N MBConv without SE)`,
  },
  classes: {
    kind: 'int',
    default: null,
    nullable: true,
    min: 2,
    help: 'output classes (null: number of words)',
  },
  in_channels: {
    kind: 'int',
    default: MODEL_DEFAULTS.inChannels,
    min: 1,
    max: 3,
    help: '1 grey, 3 colour RGB (data.word_boundary adds one more); 2 is refused',
  },
  dropout: modelLeaf(
    'dropout',
    'dropout before the classifier, and in the transformer and the TCN unless set apart',
  ),
  // null: model.dropout, the rule of src/model/config.ts (the reference network uses one dropout)
  transformer_dropout: {
    kind: 'number',
    default: null,
    nullable: true,
    help: 'dropout inside the transformer layer (null: model.dropout)',
  },
  tcn_dropout: {
    kind: 'number',
    default: null,
    nullable: true,
    help: 'dropout inside the TCN (null: model.dropout)',
  },
  feature_dim: modelLeaf('featureDim', 'per-frame feature size (after the GLU)'),
  drop_path: modelLeaf('dropPath', 'stochastic depth rate of the last trunk block'),
  bn_momentum: modelLeaf(
    'bnMomentum',
    'BatchNorm momentum, PyTorch convention (docs/design.md defect 4)',
  ),
  frontend_maxpool: modelLeaf('frontendMaxPool', 'MaxPool3d after the 3D conv (off: the paper)'),
  activation: modelLeaf('frontendActivation', 'front-end 3D conv activation', {
    choices: [...FRONTEND_ACTIVATIONS],
  }),
  transformer_layers: modelLeaf('transformer.layers', 'encoder layers over time'),
  transformer_heads: modelLeaf('transformer.heads', 'attention heads'),
  transformer_ffn: modelLeaf('transformer.ffn', 'feed-forward width'),
  attention: modelLeaf(
    'attention',
    "what a frame attends to: time (its clip's frames) or self (only itself: the reference implementation at batch 1). Fine-tuning an imported 'self' model with time changes the function; the weights are a start",
    { choices: [...ATTENTION_REGIMES] },
  ),
  tcn_layers: modelLeaf('tcn.layers', 'TCN levels (dilation 2^L)'),
  tcn_channels: modelLeaf('tcn.width', 'TCN width'),
  tcn_kernel: modelLeaf('tcn.kernel', 'TCN kernel size'),
};

/** What the model config needs of a training config. */
export interface ModelPart {
  model: ModelSection;
  data: { word_boundary: boolean };
}

/** The config key a model-config refusal is about: the first ModelConfig path its message names. */
function keyOfMessage(msg: string): string | undefined {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const named: [keyof ModelSection, string][] = [
    ...MODEL_PATHS,
    ['stages', 'stages'],
    ['stages', 'stage row'],
    ['variant', 'variant'],
    ['classes', 'classes'],
    ['in_channels', 'inChannels'],
  ];
  let best: [number, string] | undefined;
  for (const [key, path] of named) {
    const at = new RegExp(`(?<![\\w.])${esc(path)}(?!\\w)`).exec(msg)?.index;
    if (at !== undefined && (!best || at < best[0])) best = [at, key];
  }
  return best?.[1];
}

/**
 * ModelConfig of a training config's model section, validated by src/model/config.ts (the one
 * check of stage rows and sizes); a refusal names the config key. `classes` defaults to
 * model.classes, else 2 (a placeholder while the data's word count is not known yet).
 */
export function modelConfigOfSection(cfg: ModelPart, classes?: number): ModelConfig {
  const m = cfg.model;
  const input: Record<string, unknown> = {
    variant: m.variant,
    ...(m.stages ? { stages: m.stages } : {}),
    classes: classes ?? m.classes ?? 2,
    inChannels: m.in_channels + (cfg.data.word_boundary ? 1 : 0),
  };
  for (const [key, path] of MODEL_PATHS) if (m[key] !== null) setAt(input, path, m[key]);
  try {
    return modelConfig(input as ModelConfigInput);
  } catch (e) {
    const msg = (e as Error).message;
    const key = keyOfMessage(msg);
    throw new ConfigError(key ? `config key 'model.${key}': ${msg}` : `model config: ${msg}`);
  }
}

/** ModelConfig for `classes` output words (model.classes, when set, wins and must be ≥ words). */
export function modelConfigFor(cfg: ModelPart, classes: number): ModelConfig {
  const m = cfg.model;
  if (m.classes !== null && m.classes < classes)
    throw new ConfigError(
      `config key 'model.classes' is ${m.classes} but the data has ${classes} words`,
    );
  return modelConfigOfSection(cfg, m.classes ?? classes);
}
