// `eflip eval`: a checkpoint (training .ckpt or model .safetensors) on one split of an
// LRW-layout tree, with the checkpoint's labels and pre-processing; EMA weights when present.
import { configFromObject, defaultConfig, type TrainConfig } from './config.js';
import { loadLrwSplits, MemoryClipSource, type LoadedSplits } from './data_source.js';
import { evaluateSource } from './evaluate.js';
import { loadForEval } from './model_io.js';
import type { EvalMetrics } from './metrics.js';
import type { Split } from '../data/lrw.js';
import { inputPlanes } from '../infer/preprocess.js';
import { checkDevice } from '../engine/index.js';

export interface EvalOptions {
  checkpoint: string;
  data: string;
  split: Split;
  batchSize?: number;
  useEma?: boolean;
  /** at most this many batches */
  limit?: number | null;
  workers?: number;
  log?: (m: string) => void;
  stream?: NodeJS.WriteStream;
  quiet?: boolean;
  /** cpu (default), cuda or cuda:N */
  device?: string;
}

export interface EvalResult {
  metrics: EvalMetrics;
  checkpoint: string;
  weights: string;
  split: Split;
  seconds: number;
  device: string;
  /** clips that decoded fewer frames than their container promises (evaluated on what decoded) */
  incomplete: LoadedSplits['incomplete'];
  /** clips left out of the metrics, and why (unreadable, frames the crop does not fit) */
  skipped: LoadedSplits['skipped'];
  /** entries of the tree that are not clips (odd word names, *.mp4 that are no regular file) */
  indexSkipped: LoadedSplits['indexSkipped'];
}

export async function evaluateCheckpoint(o: EvalOptions): Promise<EvalResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const device = checkDevice(o.device ?? 'cpu'); // refused before anything is read
  const m = loadForEval(o.checkpoint, { useEma: o.useEma });
  if (device !== 'cpu') m.model.to(device);
  let cfg: TrainConfig = defaultConfig();
  if (m.metadata.train_config) {
    try {
      cfg = configFromObject(JSON.parse(m.metadata.train_config));
    } catch {
      /* a foreign config: defaults + preprocessing below */
    }
  }
  cfg.data.root = o.data;
  cfg.data.crop = m.preprocessing.crop as TrainConfig['data']['crop'];
  cfg.data.size = m.preprocessing.size;
  cfg.data.mean = m.preprocessing.mean;
  cfg.data.std = m.preprocessing.std;
  if (o.workers) cfg.data.workers = o.workers;
  // the input planes the network takes: grey or RGB frames, plus the word-boundary plane
  // (1 grey, 2 grey + boundary, 3 RGB, 4 RGB + boundary — what training's model.in_channels and data.word_boundary give)
  const layout = inputPlanes(m.modelConfig.inChannels);
  cfg.model.in_channels = layout.image;
  cfg.data.word_boundary = layout.wordBoundary;
  log(
    `checkpoint ${o.checkpoint}: ${m.labels.length} words, ${m.source} weights, input ${cfg.data.frames}×${cfg.data.size}×${cfg.data.size} (${cfg.data.crop} crop, ${layout.image === 3 ? 'colour' : 'grey'}${layout.wordBoundary ? ' + word boundary' : ''})`,
  );
  const batchSize = o.batchSize ?? cfg.train.eval_batch_size ?? cfg.train.batch_size;
  // --limit: only the clips of those batches are decoded (a word at a time in turn)
  const data = await loadLrwSplits(
    cfg,
    [o.split],
    m.labels,
    log,
    o.limit ? o.limit * batchSize : undefined,
  );
  const clips = data.clips[o.split];
  if (!clips.length)
    throw new Error(`no ${o.split} clips of the checkpoint's words under ${o.data}`);
  const src = new MemoryClipSource(clips, {
    batchSize,
    shuffle: false,
    seed: 0,
    size: cfg.data.size,
    frames: cfg.data.frames,
    mean: cfg.data.mean,
    std: cfg.data.std,
    augment: null,
    dropLast: false,
    wordBoundary: layout.wordBoundary,
  });
  const metrics = await evaluateSource((x) => m.model.forward(x), src, m.labels, {
    limit: o.limit,
    label: o.split,
    stream: o.stream,
    quiet: o.quiet,
    device,
  });
  m.model.dispose();
  return {
    metrics,
    checkpoint: o.checkpoint,
    weights: m.source,
    split: o.split,
    seconds: (Date.now() - t0) / 1000,
    device,
    incomplete: data.incomplete,
    skipped: data.skipped,
    indexSkipped: data.indexSkipped,
  };
}
