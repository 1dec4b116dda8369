// The model part of a TrainConfig → src/model's ModelConfig (the JSON that travels in
// checkpoints as metadata "config").
import { modelConfig, type ModelConfig } from '../model/config.js';
import type { TrainConfig } from './config.js';
import { ConfigError } from './config.js';

/** ModelConfig for `classes` output words (model.classes, when set, wins and must be ≥ words). */
export function modelConfigFor(cfg: TrainConfig, classes: number): ModelConfig {
  const m = cfg.model;
  if (m.classes !== null && m.classes < classes)
    throw new ConfigError(
      `config key 'model.classes' is ${m.classes} but the data has ${classes} words`,
    );
  try {
    return modelConfig({
      variant: m.variant === 'custom' ? 'custom' : m.variant,
      ...(m.stages ? { stages: m.stages } : {}),
      classes: m.classes ?? classes,
      inChannels: m.in_channels + (cfg.data.word_boundary ? 1 : 0),
      frontendMaxPool: m.frontend_maxpool,
      frontendActivation: m.activation,
      featureDim: m.feature_dim,
      transformer: {
        layers: m.transformer_layers,
        heads: m.transformer_heads,
        ffn: m.transformer_ffn,
        dropout: m.transformer_dropout,
      },
      attention: m.attention,
      tcn: {
        layers: m.tcn_layers,
        width: m.tcn_channels,
        kernel: m.tcn_kernel,
        dropout: m.tcn_dropout,
      },
      dropout: m.dropout,
      dropPath: m.drop_path,
      bnMomentum: m.bn_momentum,
    });
  } catch (e) {
    throw new ConfigError(`model config: ${(e as Error).message}`);
  }
}
