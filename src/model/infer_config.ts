// Guess a ModelConfig from a state dict's keys and shapes (for `eflip import` of checkpoints
// that carry no eflip config): classes/width from fc_layer, transformer and TCN sizes from
// their weights, the stage table by matching a named variant's block count and widths.
// Parameter-free options (front-end max-pool, activation) cannot be seen and keep defaults.
import {
  modelConfig,
  STAGE_TABLES,
  ModelConfigError,
  type ModelConfig,
  type ModelConfigInput,
} from './config.js';

type Shapes = Map<string, { shape: number[] }>;

export function inferModelConfig(tensors: Shapes, overrides: ModelConfigInput = {}): ModelConfig {
  const shape = (k: string): number[] => {
    const t = tensors.get(k);
    if (!t)
      throw new ModelConfigError(
        `cannot infer the model config: no '${k}' in the state dict (pass --variant/--config)`,
      );
    return t.shape;
  };
  const keys = [...tensors.keys()];
  const [classes, width] = shape('fc_layer.weight');
  const conv3d = shape('frontend_3d.conv3d.conv3d.weight'); // (c0, inChannels, 3, 5, 5)
  const c0 = conv3d[0];
  const nBlocks = new Set(
    keys.map((k) => /^frontend_3d\.efnet\.blocks\.(\d+)\./.exec(k)?.[1]).filter(Boolean),
  ).size;
  const pw = shape('frontend_3d.efnet.stage_7.pointwise.weight'); // (2·feat, lastOut, 1, 1)
  let variant: string | undefined;
  for (const [name, rows] of Object.entries(STAGE_TABLES)) {
    const blocks = rows.reduce((s, r) => s + r.layers, 0);
    if (
      blocks === nBlocks &&
      rows[0].inChannels === c0 &&
      rows[rows.length - 1].outChannels === pw[1]
    )
      variant = name;
  }
  if (!variant && !overrides.stages) {
    throw new ModelConfigError(
      `cannot infer the variant: ${nBlocks} trunk blocks, stem ${c0} channels, last ${pw[1]} channels match none of ${Object.keys(STAGE_TABLES).join(', ')} (pass --config with stages)`,
    );
  }
  const single = tensors.has('transformer_encoder.self_attn.in_proj_weight');
  const stacked = new Set(
    keys.map((k) => /^transformer_encoder\.layers\.(\d+)\./.exec(k)?.[1]).filter(Boolean),
  ).size;
  const tLayers = single ? 1 : stacked;
  const tPrefix = single ? 'transformer_encoder.' : 'transformer_encoder.layers.0.';
  const tcnLayers = new Set(
    keys.map((k) => /^tcn_block\.tcn_layers\.(\d+)\./.exec(k)?.[1]).filter(Boolean),
  ).size;
  const input: ModelConfigInput = {
    variant,
    classes,
    inChannels: conv3d[1],
    featureDim: pw[0] / 2,
    tcn: {
      layers: tcnLayers,
      width,
      kernel: shape('tcn_block.tcn_layers.0.conv_block.0.weight')[2],
    },
    ...overrides,
  };
  if (tLayers > 0) {
    input.transformer = {
      layers: tLayers,
      ffn: shape(`${tPrefix}linear1.weight`)[0],
      ...(overrides.transformer ?? {}),
    };
  } else {
    input.transformer = { layers: 0, ...(overrides.transformer ?? {}) };
  }
  return modelConfig(input);
}
