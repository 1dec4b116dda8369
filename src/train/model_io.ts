// Building the network for training/evaluation and moving weights in and out of it:
// src/model's network behind the trainer's TrainableModel interface, fine-tuning from
// pretrained weights (class-count mismatch → the head is re-initialised and reported), and
// loading any eflip weights file (training checkpoint or plain safetensors) for evaluation.
import { rawToFloat32, type RawTensor } from '../io/safetensors.js';
import type { ModelConfig } from '../model/config.js';
import { EMA_PREFIXES, selectWeights } from '../model/model_metadata.js';
import { readModelFile, readModelHeader, readPretrainedWeights } from '../model/model_file.js';
import type { LipReaderNet } from '../model/lipreader.js';
import { createModel } from '../model/weights.js';
import type { Module } from '../nn/index.js';
import type { TrainableModel } from './trainer.js';

/** Puts a network's parameters and buffers on `device` (canonical, from checkTrainDevice), channels-last trunk optionally. */
export function placeModel(net: LipReaderNet, device: string, channelsLast = false): void {
  if (device !== 'cpu') net.to(device);
  if (channelsLast) net.useChannelsLast(true);
}

export function asTrainable(m: Module): TrainableModel {
  return {
    forward: (x) => m.forward(x),
    train: (mode) => {
      m.train(mode);
    },
    namedParameters: () => [...m.namedParameters()],
    stateTensors: () => m.stateDict(),
  };
}

/** The head's parameter names (re-initialised when the class count differs). */
export const HEAD_PREFIX = 'fc_layer.';

/** Weights of a file: EMA set when present (ema.*), else model.* (training checkpoints), else plain
 *  names (the one weight selector, src/model/model_metadata.ts). */
export function weightsOf(
  file: { tensors: Map<string, RawTensor> },
  preferEma = true,
): { weights: Map<string, RawTensor>; source: 'ema' | 'model' | 'plain' } {
  const { tensors, prefix } = selectWeights(file.tensors, { ema: preferEma });
  return { weights: tensors, source: sourceName(prefix) };
}

const sourceName = (prefix: string): 'ema' | 'model' | 'plain' =>
  EMA_PREFIXES.includes(prefix) ? 'ema' : prefix === 'model.' ? 'model' : 'plain';

export interface FineTuneReport {
  loaded: number;
  skippedHead: string[];
  missing: string[];
  unexpected: string[];
  source: string;
  /** the stem conv's weights were converted between grey and colour input (what, from → to) */
  stemConverted?: string;
  /** the file's model.attention differs from this network's ('self → time'): the weights are a
   *  start, the function changes (an imported reference checkpoint fine-tuned with attention over time) */
  attentionChanged?: string;
}

/** The stem conv, whose input channels are the network's input planes. */
export const STEM_WEIGHT = 'frontend_3d.conv3d.conv3d.weight';
const LUMA = [0.299, 0.587, 0.114];

/**
 * Stem weights (out, in, kT, kH, kW) of a grey network for a colour one or back, exactly:
 * grey → RGB splits each grey filter over R, G, B by the BT.601 luma weights (the colour network
 * then computes on RGB what the grey one computed on its luma — the grey the loaders make);
 * RGB → grey sums the three filters (grey frames are R = G = B). A word-boundary plane (the last
 * input channel, 2 = grey + boundary, 4 = RGB + boundary) is carried over. Float weights of any
 * precision → float32; null when the pair of channel counts is not grey↔colour.
 */
export function convertStemChannels(t: RawTensor, to: number): RawTensor | null {
  const from = t.shape[1];
  if (!['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype) || t.shape.length !== 5)
    return null;
  const boundary = from % 2 === 0 ? 1 : 0;
  if ((to % 2 === 0 ? 1 : 0) !== boundary) return null;
  const fi = from - boundary,
    ti = to - boundary;
  if (!((fi === 1 && ti === 3) || (fi === 3 && ti === 1))) return null;
  const src = rawToFloat32(t);
  const [O, , ...k] = t.shape;
  const K = k.reduce((a, b) => a * b, 1);
  const out = new Float32Array(O * to * K);
  for (let o = 0; o < O; o++) {
    const s = (c: number) => src.subarray((o * from + c) * K, (o * from + c + 1) * K);
    const d = (c: number) => out.subarray((o * to + c) * K, (o * to + c + 1) * K);
    if (fi === 1)
      for (let c = 0; c < 3; c++) {
        const w = s(0),
          dc = d(c);
        for (let i = 0; i < K; i++) dc[i] = w[i] * LUMA[c];
      }
    else {
      const dc = d(0);
      for (let c = 0; c < 3; c++) {
        const w = s(c);
        for (let i = 0; i < K; i++) dc[i] += w[i];
      }
    }
    if (boundary) d(ti).set(s(fi));
  }
  return { dtype: 'float32', shape: [O, to, ...k], data: new Uint8Array(out.buffer) };
}

/** Load pretrained weights for fine-tuning; a head whose shape differs keeps its fresh init; grey
 *  stem weights are converted for a colour network and back (convertStemChannels). */
export function loadPretrained(model: Module, path: string): FineTuneReport {
  // a model file's own config, labels and pre-processing are validated against its tensors first
  const f = readPretrainedWeights(path);
  const weights = f.weights,
    source = sourceName(f.prefix);
  const own = model.stateDict();
  const skippedHead: string[] = [];
  const stem = weights.get(STEM_WEIGHT),
    ownStem = own.get(STEM_WEIGHT);
  let stemConverted: string | undefined;
  if (
    stem &&
    ownStem &&
    stem.shape[1] !== ownStem.shape[1] &&
    stem.shape.length === 5 &&
    stem.shape.every((v, i) => i === 1 || v === ownStem.shape[i])
  ) {
    const c = convertStemChannels(stem, ownStem.shape[1]);
    if (c) {
      weights.set(STEM_WEIGHT, c);
      const kind = (n: number) => (n <= 2 ? 'grey' : 'colour') + (n % 2 === 0 ? ' + boundary' : '');
      stemConverted = `${STEM_WEIGHT} [${stem.shape.join(', ')}] → [${c.shape.join(', ')}] (${kind(stem.shape[1])} → ${kind(c.shape[1])} input)`;
    }
  }
  for (const [k, t] of [...weights]) {
    const dst = own.get(k);
    if (k.startsWith(HEAD_PREFIX) && dst && dst.shape.join() !== t.shape.join()) {
      skippedHead.push(`${k} [${t.shape.join(', ')}] → [${dst.shape.join(', ')}]`);
      weights.delete(k);
    }
  }
  let rep;
  try {
    rep = model.loadStateDict(weights, { strict: false });
  } catch (e) {
    throw new Error(
      `${path}: ${(e as Error).message
        .split('\n')
        .map((l) => l.trim())
        .join(' ')}`,
    );
  }
  const bad = rep.missing.filter(
    (k) => !k.startsWith(HEAD_PREFIX) && !k.endsWith('num_batches_tracked'),
  );
  if (bad.length > own.size / 2)
    throw new Error(
      `${path}: only ${own.size - rep.missing.length} of ${own.size} model tensors found — not weights of this architecture?`,
    );
  // the file's attention regime (validated metadata; absent = 'time') against this network's
  let fileAttention = 'time';
  try {
    fileAttention =
      (JSON.parse(readModelHeader(path).metadata.config ?? '{}') as { attention?: string })
        .attention ?? 'time';
  } catch {
    /* a bare state dict: no config */
  }
  const ownAttention = (model as { config?: { attention?: string } }).config?.attention ?? 'time';
  const attentionChanged =
    fileAttention !== ownAttention ? `${fileAttention} → ${ownAttention}` : undefined;
  return {
    loaded: weights.size - rep.unexpected.length,
    skippedHead,
    missing: rep.missing,
    unexpected: rep.unexpected,
    source,
    ...(stemConverted ? { stemConverted } : {}),
    ...(attentionChanged ? { attentionChanged } : {}),
  };
}

export interface LoadedForEval {
  model: Module;
  modelConfig: ModelConfig;
  labels: string[];
  preprocessing: { crop: string; size: number; mean: number; std: number };
  source: string;
  metadata: Record<string, string>;
}

/** Any eflip weights file → a model in eval mode with labels and pre-processing facts (validated
 *  against the file's tensors before the network is built: src/model/model_file.ts). */
export function loadForEval(path: string, opts: { useEma?: boolean } = {}): LoadedForEval {
  const f = readModelFile(path, { ema: opts.useEma !== false });
  const model = createModel(f.config, { seed: 0 });
  // names and shapes were checked against the config; BatchNorm counters may be absent
  model.loadStateDict(f.weights, { strict: false });
  model.eval();
  return {
    model,
    modelConfig: f.config,
    labels: f.labels,
    preprocessing: f.preprocessing,
    source: sourceName(f.prefix),
    metadata: f.file.metadata,
  };
}
