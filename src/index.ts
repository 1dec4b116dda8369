// Public API of eflip (`import { engine, nn, model } from 'eflip'`). The heavier parts have
// their own entry points so importing one does not load the others:
//   'eflip/engine'  tensors over libtorch        'eflip/infer'  LipReader (onnxruntime / libtorch)
//   'eflip/nn'      modules and layers            'eflip/roi'    face landmarks and mouth ROI
//   'eflip/model'   the lipreading network        'eflip/data'   LRW index, video I/O, loader, synth
//   'eflip/train'   config, trainer, metrics
import { readFileSync } from 'node:fs';

export * as engine from './engine/index.js';
export * as nn from './nn/index.js';
export * as model from './model/index.js';

export const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
