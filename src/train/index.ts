// eflip training API ('eflip/train'): config, trainer, optimizer, schedule, EMA, callbacks,
// checkpoints, metrics, run report, evaluation and the demo model.
export {
  loadConfig,
  defaultConfig,
  applyOverride,
  configFromObject,
  configToYaml,
  configReference,
  resolveKey,
  ConfigError,
  SCHEMA,
  ALIASES,
  type TrainConfig,
  type LoadOptions,
} from './config.js';
export { modelConfigFor } from './model_config.js';
export { lrAt, WarmupCosine, type ScheduleSpec } from './schedule.js';
export { AdamW, type AdamWOptions, type NamedParam } from './adamw.js';
export { Ema } from './ema.js';
export {
  EarlyStopping,
  ModelCheckpoint,
  type Callback,
  type TrainerHandle,
  type EpochMetrics,
} from './callbacks.js';
export {
  Trainer,
  NonFiniteLossError,
  OutOfMemoryError,
  InterruptedError,
  DataError,
  type TrainableModel,
  type TrainerOptions,
  type FitResult,
} from './trainer.js';
export type { TrainBatch, BatchSource } from './batch_source.js';
export {
  writeCheckpoint,
  readCheckpoint,
  serializeCheckpoint,
  CheckpointError,
  type CheckpointContent,
  type TrainState,
} from './checkpoint.js';
export {
  MetricAccumulator,
  metricsMarkdown,
  metricsJson,
  type EvalMetrics,
  type ConfusedPair,
  type WordAccuracy,
} from './metrics.js';
export { MetricsLog, type MetricRecord } from './metrics_log.js';
export { ProgressBar } from './progress.js';
export { writeRunReport } from './report.js';
export { encodePng } from '../io/png.js';
export { writeFileAtomic } from '../io/atomic.js';
export { evaluateSource } from './evaluate.js';
export { evaluateCheckpoint, type EvalOptions, type EvalResult } from './eval_run.js';
export { runTraining, resolveCheckpointPath, type RunOptions, type RunResult } from './run.js';
export { asTrainable, loadPretrained, loadForEval, weightsOf } from './model_io.js';
export { MemoryClipSource, loadLrwSplits, mixupHook } from './data_source.js';
export { LoaderSource, openShardSource } from './loader_source.js';
export { retrainDemo, publishDemo, exportModelFile, DEMO_CORPUS } from './demo_model.js';
