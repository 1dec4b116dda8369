// Export from training checkpoints: EMA weights win over raw ones, labels/pre-processing travel
// into the ONNX metadata, and a small custom config (not a named variant) exports too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import { readOnnxSummary } from '../src/io/onnx/onnx_reader.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import { nodePlatform } from '../src/infer/ort_node.js';
import { bytesSource } from '../src/infer/onnx_model_source.js';
import { padTime } from '../src/infer/frontend_split.js';
import { maxAbsDiff, randn, tempDir } from './onnx_helpers.js';
import { torchForward, torchInit } from './onnx_torch_ref.js';

const TINY = {
  variant: 'tiny',
  stages: [
    {
      expand: 1,
      kernel: 3,
      stride: 1,
      inChannels: 8,
      outChannels: 8,
      layers: 1,
      se: false,
      fused: true,
    },
    {
      expand: 4,
      kernel: 3,
      stride: 2,
      inChannels: 8,
      outChannels: 16,
      layers: 2,
      se: true,
      fused: false,
    },
  ],
  classes: 6,
  inChannels: 1,
  frontendMaxPool: true,
  frontendActivation: 'swish',
  featureDim: 32,
  transformer: { layers: 2, heads: 4, ffn: 16, dropout: 0.1 },
  tcn: { layers: 2, width: 24, kernel: 3, dropout: 0.2 },
  dropout: 0.4,
  dropPath: 0.0,
  bnMomentum: 0.01,
  bnEps: 1e-3,
};

test('custom config (max-pool, swish, 2 encoder layers, bnEps 1e-3) exports and matches PyTorch', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = torchInit(dir, 'T', 5, 6, TINY);
    const x = randn(3 * 7 * 88 * 88, 77);
    const ref = torchForward(dir, w, x, [3, 1, 7, 88, 88], 'tiny');
    const r = await OnnxLipReader.open(
      await nodePlatform('cpu'),
      bytesSource(exportOnnx(loadCheckpoint(w), 'full'), 'tiny.onnx'),
    );
    const got = await r.predictBatch(
      [0, 1, 2].map((b) => ({
        data: x.slice(b * 7 * 88 * 88, (b + 1) * 7 * 88 * 88),
        frames: 7,
        channels: 1,
        size: 88,
      })),
    );
    await r.dispose();
    const d = maxAbsDiff(Float32Array.from(got.flatMap((a) => [...a])), ref.logp);
    assert.ok(d < 1e-3, `max |diff| ${d}`);
  } finally {
    cleanup();
  }
});

test('a 3-channel (RGB) config exports and matches PyTorch: the stem stacks t−1, t, t+1 per channel', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = torchInit(dir, 'T', 5, 6, { ...TINY, inChannels: 3 });
    const x = randn(2 * 3 * 6 * 88 * 88, 78);
    const ref = torchForward(dir, w, x, [2, 3, 6, 88, 88], 'tiny');
    const ck = loadCheckpoint(w);
    const r = await OnnxLipReader.open(
      await nodePlatform('cpu'),
      bytesSource(exportOnnx(ck, 'full'), 'rgb.onnx'),
    );
    const n = 3 * 6 * 88 * 88;
    const got = await r.predictBatch(
      [0, 1].map((b) => ({ data: x.slice(b * n, (b + 1) * n), frames: 6, channels: 3, size: 88 })),
    );
    await r.dispose();
    const d = maxAbsDiff(Float32Array.from(got.flatMap((a) => [...a])), ref.logp);
    assert.ok(d < 1e-3, `max |diff| ${d}`);
    // the per-frame features show a wrong channel order (log-probs of random weights barely do)
    const ort = await import('onnxruntime-node');
    const fe = await ort.InferenceSession.create(exportOnnx(ck, 'frontend'));
    const out = await fe.run({
      frames: new ort.Tensor('float32', padTime(x, [2, 3, 6, 88]), [2, 3, 8, 88, 88]),
    });
    await fe.release();
    const feats = out.features.data as Float32Array;
    assert.equal(feats.length, ref.features.length);
    const scale = Math.max(...ref.features.map(Math.abs));
    const df = maxAbsDiff(feats, ref.features);
    assert.ok(df < 1e-5 * Math.max(1, scale), `features max |diff| ${df} (scale ${scale})`);
  } finally {
    cleanup();
  }
});

test('training checkpoint: EMA weights are exported, labels and pre-processing travel as metadata', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const plain = readSafetensors(torchInit(dir, 'T', 6, 6, TINY));
    const shifted = (t: RawTensor): RawTensor => {
      const f = new Float32Array(Uint8Array.from(t.data).buffer);
      for (let i = 0; i < f.length; i++) f[i] += i === 0 ? 3 : 0; // EMA: class 0 favoured
      return { ...t, data: new Uint8Array(f.buffer) };
    };
    const entries: [string, RawTensor][] = [];
    for (const [k, t] of plain.tensors) {
      entries.push([`model.${k}`, t]);
      entries.push([`ema.${k}`, k === 'fc_layer.bias' ? shifted(t) : t]);
    }
    entries.push([
      'optim.state.0.exp_avg',
      { dtype: 'float32', shape: [2], data: new Uint8Array(8) },
    ]);
    const labels = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta'];
    const ckpt = path.join(dir, 'last.safetensors');
    writeSafetensors(ckpt, entries, {
      ...plain.metadata,
      labels: JSON.stringify(labels),
      preprocessing: JSON.stringify({ crop: 'center', size: 88, mean: 0.5, std: 0.25 }),
    });
    const ck = loadCheckpoint(ckpt);
    assert.equal(ck.usedEma, true);
    const bytes = exportOnnx(ck, 'full');
    const meta = readOnnxSummary(bytes).metadata;
    assert.deepEqual(JSON.parse(meta['eflip.labels']), labels);
    assert.deepEqual(JSON.parse(meta['eflip.normalisation']), {
      mean: 0.5,
      std: 0.25,
      scale: 1 / 255,
    });
    assert.deepEqual(JSON.parse(meta['eflip.crop']), { kind: 'center', size: 88 });
    assert.equal(meta['eflip.ema_weights'], 'true');
    assert.equal(JSON.parse(meta['eflip.config']).variant, 'tiny');

    const r = await OnnxLipReader.open(await nodePlatform('cpu'), bytesSource(bytes, 'ema.onnx'));
    assert.deepEqual(r.labels, labels);
    assert.equal(r.preprocessing.mean, 0.5);
    const clip = { data: randn(5 * 88 * 88, 3), frames: 5, channels: 1, size: 88 };
    const lpEma = await r.predictClip(clip);
    const rawOnly = new Map([...plain.tensors].map(([k, t]) => [k, t]));
    const rawPath = path.join(dir, 'raw.safetensors');
    writeSafetensors(rawPath, rawOnly, plain.metadata);
    const r2 = await OnnxLipReader.open(
      await nodePlatform('cpu'),
      bytesSource(exportOnnx(loadCheckpoint(rawPath), 'full'), 'raw.onnx'),
    );
    const lpRaw = await r2.predictClip(clip);
    // logits differ by +3 on class 0 only: log-softmax shifts class 0 relative to the rest by 3
    assert.ok(Math.abs(lpEma[0] - lpEma[1] - (lpRaw[0] - lpRaw[1]) - 3) < 1e-3);
    assert.ok(Math.abs(lpEma[2] - lpEma[1] - (lpRaw[2] - lpRaw[1])) < 1e-3);
    await r.dispose();
    await r2.dispose();
  } finally {
    cleanup();
  }
});

test('a live LipReaderNet exports with its current weights (module tree checked against the emitter table)', async () => {
  const { createModel } = await import('../src/model/weights.js');
  const { exportModule, checkModuleTree, UnsupportedModuleError } =
    await import('../src/io/onnx/export_module.js');
  const { fromTypedArray, noGrad, tidy } = await import('../src/engine/index.js');
  const { Module } = await import('../src/nn/index.js');
  const net = createModel({ ...TINY, frontendMaxPool: false } as never, { seed: 9 }).eval();
  try {
    assert.equal(checkModuleTree(net).get('TcnLayer'), 2);
    const r = await OnnxLipReader.open(
      await nodePlatform('cpu'),
      bytesSource(
        exportModule(net, 'full', { labels: ['a', 'b', 'c', 'd', 'e', 'f'] }),
        'live.onnx',
      ),
    );
    const x = randn(2 * 6 * 88 * 88, 4);
    const got = await r.predictBatch(
      [0, 1].map((b) => ({
        data: x.slice(b * 6 * 7744, (b + 1) * 6 * 7744),
        frames: 6,
        channels: 1,
        size: 88,
      })),
    );
    await r.dispose();
    const want = tidy(() =>
      noGrad(() =>
        Float32Array.from(
          net.forward(fromTypedArray(x, [2, 1, 6, 88, 88])).dataView() as Float32Array,
        ),
      ),
    );
    assert.ok(maxAbsDiff(Float32Array.from(got.flatMap((a) => [...a])), want) < 1e-3);
    class Mystery extends Module {
      forward<T>(t: T): T {
        return t;
      }
    }
    (net as any).registerModule('mystery', new Mystery());
    assert.throws(() => exportModule(net), UnsupportedModuleError);
    assert.throws(() => exportModule(net), /module 'mystery' of class Mystery has no ONNX emitter/);
  } finally {
    net.dispose();
  }
});

test('a streaming pair from another export is refused when the graph is first used (other weights, config or precision)', async () => {
  const { notFromOneExport } = await import('../src/infer/onnx_model_source.js');
  const root = new URL('../../assets/', import.meta.url).pathname;
  const a = loadCheckpoint(path.join(root, 'demo', 'model.safetensors'));
  const b = loadCheckpoint(path.join(root, 'demo-roi', 'model.safetensors'));
  const full = exportOnnx(a, 'full');
  const own = bytesSource(full, 'a.onnx', {
    frontend: exportOnnx(a, 'frontend'),
    backend: async () => exportOnnx(a, 'backend'),
  });
  assert.ok((await own.graph('frontend')).length > 0);
  assert.ok((await own.graph('backend')).length > 0);
  const mixed = bytesSource(full, 'a.onnx', {
    frontend: exportOnnx(a, 'frontend'),
    backend: async () => exportOnnx(b, 'backend'),
  });
  await assert.rejects(
    mixed.graph('backend'),
    /a\.onnx: its backend graph is not from the same export \(other weights\); export the model again/,
  );
  const meta = (bytes: Uint8Array) => readOnnxSummary(bytes).metadata;
  const [ma, mb] = [meta(full), meta(exportOnnx(b, 'frontend'))];
  assert.equal(ma['eflip.weights'], meta(exportOnnx(a, 'backend'))['eflip.weights']);
  assert.notEqual(ma['eflip.weights'], mb['eflip.weights']);
  // files from before eflip.weights: config and labels decide
  const old = (m: Record<string, string>) => {
    const { ['eflip.weights']: _, ...rest } = m;
    return rest;
  };
  assert.equal(notFromOneExport(old(ma), old(ma)), null);
  assert.match(
    notFromOneExport(old(ma), { ...old(ma), 'eflip.config': mb['eflip.config'] }) ?? '',
    /another network config/,
  );
  assert.match(
    notFromOneExport(old(ma), { ...old(ma), 'eflip.labels': '["x"]' }) ?? '',
    /other labels/,
  );
  assert.match(
    notFromOneExport(ma, { ...ma, 'eflip.quantization': '{}' }) ?? '',
    /int8 beside a float32 model/,
  );
});
