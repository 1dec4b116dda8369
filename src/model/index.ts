// eflip model: the lipreading network, its config and model files.
export { LipReaderNet } from './lipreader.js';
export {
  modelConfig,
  modelConfigFromJson,
  validateModelConfig,
  parseStageRows,
  blockSpecs,
  adjustChannels,
  STAGE_TABLES,
  VARIANTS,
  MODEL_DEFAULTS,
  MODEL_LIMITS,
  ModelConfigError,
  type ModelConfig,
  type ModelConfigInput,
  type StageRow,
  type TransformerConfig,
  type TcnConfig,
  type BlockSpec,
} from './config.js';
export { summarize, type ModelSummary } from './summary.js';
export { inferModelConfig } from './infer_config.js';
export {
  createModel,
  saveModel,
  loadModel,
  modelMetadata,
  stateDictEntries,
  selectWeights,
  labelsFromMetadata,
  defaultLabels,
  tensorToRaw,
  MODEL_FORMAT,
  ModelFileError,
  type LoadedModel,
  type SaveOptions,
} from './weights.js';
export { resolveLabels, LabelsError } from './labels.js';
export { stateShapes, type StateEntry } from './state_shapes.js';
export {
  validateModelMetadata,
  checkTensorsMatchConfig,
  checkLabels,
  checkConfig,
  type ModelMetadata,
} from './model_metadata.js';
export { readModelFile, checkModelHeader, fileKindOf, type OpenedModelFile } from './model_file.js';
export { LRW_WORDS, LRW_WORDS_SEED42 } from './lrw_words.js';
