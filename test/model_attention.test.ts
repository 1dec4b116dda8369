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
import { F, fromBytes, fromTypedArray, noGrad, tidy } from '../src/engine/index.js';
import { execFileSync } from 'node:child_process';
import { loadModel, tensorToRaw } from '../src/model/weights.js';
import { rawToFloat32, readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { join } from 'node:path';
import type { Clip } from '../src/infer/types.js';
import { LIPREADER_PY, maxAbsDiff, PY, randn, tempDir } from './onnx_helpers.js';
import { torchForward, torchInit } from './onnx_torch_ref.js';
import { hasTorch } from './model_helpers.js';

const S = 88;
const skip = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
let tmp: ReturnType<typeof tempDir>;
let weights: string;
const clipOf = (data: Float32Array, frames: number): Clip => ({
  data,
  frames,
  channels: 1,
  size: S,
});

before(() => {
  if (skip) return;
  tmp = tempDir('eflip-attn-');
  // non-trivial weights: perturbed norms and BN statistics measured on a batch (fresh weights give
  // nearly input-independent features, on which the two regimes nearly agree)
  const calib = join(tmp.dir, 'calib.safetensors');
  const x = randn(4 * 29 * S * S, 77);
  writeSafetensors(calib, [
    ['x0', { dtype: 'float32', shape: [4, 1, 29, S, S], data: new Uint8Array(x.buffer) }],
  ]);
  weights = torchInit(tmp.dir, 'T', 11, 500, { variant: 'T', attention: 'self' }, calib);
});
after(() => tmp?.cleanup());

function libtorchLogProbs(
  path: string,
  x: Float32Array,
  shape: number[],
  config?: object,
): Float32Array {
  const { model } = loadModel(path, config ? { config } : {});
  try {
    model.eval();
    return noGrad(() =>
      tidy(() => {
        return rawToFloat32(tensorToRaw(model.forward(fromTypedArray(x, shape))));
      }),
    );
  } finally {
    model.dispose();
  }
}

test(
  "attention 'self' is validated metadata: travels in the config, unknown regimes refused",
  { skip },
  () => {
    const h = readModelHeader(weights);
    assert.equal(JSON.parse(h.metadata.config).attention, 'self');
    assert.equal(modelConfig({}).attention, 'time', "default 'time'");
    const bad = {
      ...h.metadata,
      config: JSON.stringify({ ...JSON.parse(h.metadata.config), attention: 'batch' }),
    };
    assert.throws(
      () => validateModelMetadata(bad, null, 'x.safetensors'),
      (e: Error) =>
        e instanceof ModelFileError &&
        /attention must be time or self, got "batch"/.test(e.message),
    );
  },
);

test(
  "attention 'self': libtorch equals the PyTorch reference (batch 1 and 3) within 1e-4, and differs from 'time'",
  { skip },
  (ctx) => {
    for (const [B, T, seed] of [
      [1, 29, 5],
      [3, 17, 6],
    ]) {
      const x = randn(B * T * S * S, seed);
      const ref = torchForward(tmp.dir, weights, x, [B, 1, T, S, S], `self_${B}`);
      const got = libtorchLogProbs(weights, x, [B, 1, T, S, S]);
      const d = maxAbsDiff(got, ref.logp);
      ctx.diagnostic(
        `self B=${B} T=${T}: max |Δ log-prob| libtorch vs PyTorch = ${d.toExponential(2)}`,
      );
      assert.ok(d <= 1e-4, `max |Δ| ${d}`);
      const cfg = { ...JSON.parse(readModelHeader(weights).metadata.config), attention: 'time' };
      const time = libtorchLogProbs(weights, x, [B, 1, T, S, S], cfg);
      const dt = maxAbsDiff(time, ref.logp);
      ctx.diagnostic(`B=${B}: max |log p(time) − log p(self)| = ${dt.toFixed(3)}`);
      assert.ok(dt > 1e-2, `the regime must matter on these weights (got ${dt})`);
    }
  },
);

test(
  "attention 'self': the ONNX export equals the PyTorch reference within 1e-4 and streaming equals whole clips",
  { skip },
  async (ctx) => {
    const ck = loadCheckpoint(weights);
    assert.equal(ck.config.attention, 'self');
    const T = 21;
    const x = randn(T * S * S, 9);
    const ref = torchForward(tmp.dir, weights, x, [1, 1, T, S, S], 'onnx_self');
    const reader = await OnnxLipReader.open(
      await nodePlatform('cpu'),
      checkpointSource(ck, weights),
    );
    const got = await reader.predictClip(clipOf(x, T));
    await reader.dispose();
    const d = maxAbsDiff(got, ref.logp);
    ctx.diagnostic(`self ONNX vs PyTorch: max |Δ log-prob| = ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `max |Δ| ${d}`);
    assert.ok(exportOnnx(ck, 'backend').length > 0);
    assert.equal(
      JSON.parse(exportMetadata(ck, 'full')['eflip.config']).attention,
      'self',
      'the exported config (eflip.config) names the regime',
    );

    // streaming runs the back-end on cached per-frame features: each window = that window as a clip
    const sr = await loadOnnxLipReader(weights, { device: 'cpu', threads: 1 });
    try {
      const steps: { windowStart: number; frame: number; logProbs: Float32Array }[] = [];
      await streamClip(
        sr,
        { ...clipOf(x, T), fps: 25 },
        { window: 8, onStep: (s) => steps.push(s) },
      );
      let worst = 0;
      for (const t of [0, 4, 7, 8, 15, 20]) {
        const s = steps[t];
        const full = await sr.predictClip(
          clipOf(x.slice(s.windowStart * S * S, (t + 1) * S * S), t + 1 - s.windowStart),
        );
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
  },
);

test(
  "attention 'self' in training (dropout off): loss and transformer/head gradients equal PyTorch's; query/key projections get none",
  { skip },
  (ctx) => {
    const [B, T] = [2, 13];
    const x = randn(B * T * S * S, 21);
    const target = new BigInt64Array([3n, 250n]);
    const inp = join(tmp.dir, 'xtrain.safetensors');
    writeSafetensors(inp, [
      ['x0', { dtype: 'float32', shape: [B, 1, T, S, S], data: new Uint8Array(x.buffer) }],
      ['target0', { dtype: 'int64', shape: [B], data: new Uint8Array(target.buffer) }],
    ]);
    const out = join(tmp.dir, 'ytrain.safetensors');
    execFileSync(
      PY,
      [
        LIPREADER_PY,
        'forward',
        '--train',
        '--grads',
        '--weights',
        weights,
        '--input',
        inp,
        '--out',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const ref = readSafetensors(out).tensors;
    const cfg = JSON.parse(readModelHeader(weights).metadata.config);
    const { model } = loadModel(weights, {
      config: {
        ...cfg,
        dropout: 0,
        dropPath: 0,
        transformer: { ...cfg.transformer, dropout: 0 },
        tcn: { ...cfg.tcn, dropout: 0 },
      },
    });
    try {
      model.train();
      tidy(() => {
        const y = model.forward(fromTypedArray(x, [B, 1, T, S, S]));
        const loss = F.nllLoss(y, fromBytes(new Uint8Array(target.buffer), 'int64', [B]));
        const dl = Math.abs(loss.item() - rawToFloat32(ref.get('loss0')!)[0]);
        assert.ok(dl < 1e-4, `loss differs by ${dl}`);
        loss.backward();
      });
      let worst = 0,
        checked = 0;
      for (const [name, p] of model.namedParameters()) {
        if (
          !name.startsWith('transformer_encoder.') &&
          !name.startsWith('fc_layer.') &&
          !name.startsWith('tcn_block.tcn_layers.3.')
        )
          continue;
        const g = rawToFloat32(tensorToRaw(p.grad!)),
          r = rawToFloat32(ref.get(`grad0.${name}`)!);
        let m = 0;
        for (const v of r) m = Math.max(m, Math.abs(v));
        if (name.endsWith('in_proj_weight')) {
          const d = 384;
          let qk = 0;
          for (let i = 0; i < 2 * d * d; i++) qk = Math.max(qk, Math.abs(g[i]));
          assert.equal(qk, 0, 'query/key projections take no part in self attention');
        }
        if (m < 1e-6) continue; // biases feeding a train-mode BatchNorm: exactly-zero gradients, float noise on both sides
        const rel = maxAbsDiff(g, r) / m;
        if (rel > 1e-3)
          ctx.diagnostic(`${name}: relative error ${rel.toExponential(2)}, max |g| ${m}`);
        worst = Math.max(worst, rel);
        checked++;
      }
      ctx.diagnostic(
        `self, train mode: ${checked} gradients, worst relative error ${worst.toExponential(2)}`,
      );
      assert.ok(checked >= 10 && worst < 1e-3, `worst relative gradient error ${worst}`);
    } finally {
      model.dispose();
    }
  },
);
