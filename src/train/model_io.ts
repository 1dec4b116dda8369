// Building the network for training/evaluation and moving weights in and out of it:
// src/model's network behind the trainer's TrainableModel interface, fine-tuning from
// pretrained weights (class-count mismatch → the head is re-initialised and reported), and
// loading any eflip weights file (training checkpoint or plain safetensors) for evaluation.
import { readSafetensors, type RawTensor } from '../io/safetensors.js';
import { manualSeed } from '../engine/index.js';
import { modelConfigFromJson, type ModelConfig } from '../model/config.js';
import { LipReaderNet } from '../model/lipreader.js';
import type { Module } from '../nn/index.js';
import type { TrainableModel } from './trainer.js';

export function createModel(cfg: ModelConfig, seed: number): Module {
  manualSeed(seed);
  return new LipReaderNet(cfg);
}

export function asTrainable(m: Module): TrainableModel {
  return {
    forward: (x) => m.forward(x),
    train: (mode) => { m.train(mode); },
    namedParameters: () => [...m.namedParameters()],
    stateTensors: () => m.stateDict(),
  };
}

/** The head's parameter names (re-initialised when the class count differs). */
export const HEAD_PREFIX = 'fc_layer.';

/** Weights of a file: EMA set when present (ema.*), else model.* (training checkpoints), else plain names. */
export function weightsOf(file: { tensors: Map<string, RawTensor> }, preferEma = true): { weights: Map<string, RawTensor>; source: 'ema' | 'model' | 'plain' } {
  const pick = (prefix: string) => {
    const m = new Map<string, RawTensor>();
    for (const [k, t] of file.tensors) if (k.startsWith(prefix)) m.set(k.slice(prefix.length), t);
    return m;
  };
  if (preferEma) {
    const e = pick('ema.');
    if (e.size) return { weights: e, source: 'ema' };
  }
  const m = pick('model.');
  if (m.size) return { weights: m, source: 'model' };
  return { weights: new Map([...file.tensors].filter(([k]) => !k.startsWith('optim.') && !k.startsWith('ema.'))), source: 'plain' };
}

export interface FineTuneReport {
  loaded: number;
  skippedHead: string[];
  missing: string[];
  unexpected: string[];
  source: string;
}

/** Load pretrained weights for fine-tuning; a head whose shape differs keeps its fresh init. */
export function loadPretrained(model: Module, path: string): FineTuneReport {
  const file = readSafetensors(path);
  const { weights, source } = weightsOf(file, true);
  const own = model.stateDict();
  const skippedHead: string[] = [];
  for (const [k, t] of [...weights]) {
    const dst = own.get(k);
    if (k.startsWith(HEAD_PREFIX) && dst && dst.shape.join() !== t.shape.join()) {
      skippedHead.push(`${k} [${t.shape.join(', ')}] → [${dst.shape.join(', ')}]`);
      weights.delete(k);
    }
  }
  const rep = model.loadStateDict(weights, { strict: false });
  const bad = rep.missing.filter((k) => !k.startsWith(HEAD_PREFIX) && !k.endsWith('num_batches_tracked'));
  if (bad.length > own.size / 2) throw new Error(`${path}: only ${own.size - rep.missing.length} of ${own.size} model tensors found — not weights of this architecture?`);
  return { loaded: weights.size - rep.unexpected.length, skippedHead, missing: rep.missing, unexpected: rep.unexpected, source };
}

export interface LoadedForEval {
  model: Module;
  modelConfig: ModelConfig;
  labels: string[];
  preprocessing: { crop: string; size: number; mean: number; std: number };
  source: string;
  metadata: Record<string, string>;
}

/** Any eflip weights file → a model in eval mode with labels and pre-processing facts. */
export function loadForEval(path: string, opts: { useEma?: boolean } = {}): LoadedForEval {
  const file = readSafetensors(path);
  const meta = file.metadata;
  if (!meta.config) throw new Error(`${path}: no model config in the metadata (not an eflip checkpoint?)`);
  const modelConfig = modelConfigFromJson(meta.config);
  const labels: string[] = meta.labels ? JSON.parse(meta.labels) : Array.from({ length: modelConfig.classes }, (_, i) => `class_${i}`);
  const preprocessing = { crop: 'mouth', size: 88, mean: 0.421, std: 0.165, ...(meta.preprocessing ? JSON.parse(meta.preprocessing) : {}) };
  const model = createModel(modelConfig, 0);
  const { weights, source } = weightsOf(file, opts.useEma !== false);
  model.loadStateDict(weights, { strict: true });
  model.eval();
  return { model, modelConfig, labels, preprocessing, source, metadata: meta };
}
