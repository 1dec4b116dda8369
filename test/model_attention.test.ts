// model.attention 'self' (each frame attends only to itself: the reference implementation at
// batch 1) against the PyTorch reference (tools/torch_ref/lipreader.py, whose 'self' runs the
// sequence-first layer on batch-first data as the reference does): libtorch and the ONNX export
// within 1e-4, streaming equal to whole-clip prediction, and 'self' ≠ 'time' on the same
// non-trivial weights (random BN statistics and affine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportMetadata, exportOnnx } from '../src/io/onnx/export_model.js';
import { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import { nodePlatform } from '../src/infer/ort_node.js';
import { checkpointSource } from '../src/infer/onnx_model_source.js';
import { loadOnnxLipReader } from '../src/infer/load_node.js';
import { TorchLipReader } from '../src/infer/torch_lipreader.js';
import { streamClip } from '../src/infer/streaming.js';
import { readModelHeader } from '../src/model/model_file.js';
import { modelConfig } from '../src/model/config.js';
import { validateModelMetadata, ModelFileError } from '../src/model/model_metadata.js';
import { fromTypedArray, noGrad, tidy } from '../src/engine/index.js';
import { loadModel, tensorToRaw } from '../src/model/weights.js';
import { rawToFloat32, writeSafetensors } from '../src/io/safetensors.js';
import { join } from 'node:path';
import type { Clip } from '../src/infer/types.js';
import { maxAbsDiff, randn, tempDir } from './onnx_helpers.js';
import { torchForward, torchInit } from './onnx_torch_ref.js';
import { hasTorch } from './model_helpers.js';

const S = 88;
const skip = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
let tmp: ReturnType<typeof tempDir>;
let weights: string;
const clipOf = (data: Float32Array, frames: number): Clip => ({ data, frames, channels: 1, size: S });

before(() => {
  if (skip) return;
  tmp = tempDir('eflip-attn-');
  // non-trivial weights: perturbed norms and BN statistics measured on a batch (fresh weights give
  // nearly input-independent features, on which the two regimes nearly agree)
  const calib = join(tmp.dir, 'calib.safetensors');
  const x = randn(4 * 29 * S * S, 77);
  writeSafetensors(calib, [['x0', { dtype: 'float32', shape: [4, 1, 29, S, S], data: new Uint8Array(x.buffer) }]]);
  weights = torchInit(tmp.dir, 'T', 11, 500, { variant: 'T', attention: 'self' }, calib);
});
after(() => tmp?.cleanup());

function libtorchLogProbs(path: string, x: Float32Array, shape: number[], config?: object): Float32Array {
  const { model } = loadModel(path, config ? { config } : {});
  try {
    model.eval();
    return noGrad(() => tidy(() => {
      return rawToFloat32(tensorToRaw(model.forward(fromTypedArray(x, shape))));
    }));
  } finally {
    model.dispose();
  }
}

test("attention 'self' is validated metadata: travels in the config, unknown regimes refused", { skip }, () => {
  const h = readModelHeader(weights);
  assert.equal(JSON.parse(h.metadata.config).attention, 'self');
  assert.equal(modelConfig({}).attention, 'time', "default 'time'");
  const bad = { ...h.metadata, config: JSON.stringify({ ...JSON.parse(h.metadata.config), attention: 'batch' }) };
  assert.throws(() => validateModelMetadata(bad, null, 'x.safetensors'), (e: Error) => e instanceof ModelFileError && /attention must be time or self, got "batch"/.test(e.message));
});

test("attention 'self': libtorch equals the PyTorch reference (batch 1 and 3) within 1e-4, and differs from 'time'", { skip }, (ctx) => {
  for (const [B, T, seed] of [[1, 29, 5], [3, 17, 6]]) {
    const x = randn(B * T * S * S, seed);
    const ref = torchForward(tmp.dir, weights, x, [B, 1, T, S, S], `self_${B}`);
    const got = libtorchLogProbs(weights, x, [B, 1, T, S, S]);
    const d = maxAbsDiff(got, ref.logp);
    ctx.diagnostic(`self B=${B} T=${T}: max |Δ log-prob| libtorch vs PyTorch = ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `max |Δ| ${d}`);
    const cfg = { ...JSON.parse(readModelHeader(weights).metadata.config), attention: 'time' };
    const time = libtorchLogProbs(weights, x, [B, 1, T, S, S], cfg);
    const dt = maxAbsDiff(time, ref.logp);
    ctx.diagnostic(`B=${B}: max |log p(time) − log p(self)| = ${dt.toFixed(3)}`);
    assert.ok(dt > 1e-2, `the regime must matter on these weights (got ${dt})`);
  }
});

test("attention 'self': the ONNX export equals the PyTorch reference within 1e-4 and streaming equals whole clips", { skip }, async (ctx) => {
  const ck = loadCheckpoint(weights);
  assert.equal(ck.config.attention, 'self');
  const T = 21;
  const x = randn(T * S * S, 9);
  const ref = torchForward(tmp.dir, weights, x, [1, 1, T, S, S], 'onnx_self');
  const reader = await OnnxLipReader.open(await nodePlatform('cpu'), checkpointSource(ck, weights));
  const got = await reader.predictClip(clipOf(x, T));
  await reader.dispose();
  const d = maxAbsDiff(got, ref.logp);
  ctx.diagnostic(`self ONNX vs PyTorch: max |Δ log-prob| = ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4, `max |Δ| ${d}`);
  assert.ok(exportOnnx(ck, 'backend').length > 0);
  assert.equal(JSON.parse(exportMetadata(ck, 'full')['eflip.config']).attention, 'self', 'the exported config (eflip.config) names the regime');

  // streaming runs the back-end on cached per-frame features: each window = that window as a clip
  const sr = await loadOnnxLipReader(weights, { device: 'cpu', threads: 1 });
  try {
    const steps: { windowStart: number; frame: number; logProbs: Float32Array }[] = [];
    await streamClip(sr, { ...clipOf(x, T), fps: 25 }, { window: 8, onStep: (s) => steps.push(s) });
    let worst = 0;
    for (const t of [0, 4, 7, 8, 15, 20]) {
      const s = steps[t];
      const full = await sr.predictClip(clipOf(x.slice(s.windowStart * S * S, (t + 1) * S * S), t + 1 - s.windowStart));
      worst = Math.max(worst, maxAbsDiff(full, s.logProbs));
    }
    ctx.diagnostic(`self streaming vs whole-window clips: max |Δ| = ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-3, `max |Δ| ${worst}`);
  } finally {
    await sr.dispose();
  }
  const lt = await TorchLipReader.load(weights, { device: 'cpu' });
  const l1 = await lt.predictClip(clipOf(x, T));
  await lt.dispose();
  assert.ok(maxAbsDiff(l1, ref.logp) <= 1e-4, 'TorchLipReader honours the regime');
});
