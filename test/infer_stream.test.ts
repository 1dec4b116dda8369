// Streaming parity (each window equals the full-clip prediction of that window), and clear
// errors on bad input: wrong size/channels, zero frames, NaN pixels, truncated/corrupt models.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import { GraphBuilder, serializeModel } from '../src/io/onnx/graph_builder.js';
import { loadOnnxLipReader } from '../src/infer/load_node.js';
import type { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import { StreamingLipReader, streamClip } from '../src/infer/streaming.js';
import { InferenceInputError, ModelLoadError, type Clip } from '../src/infer/types.js';
import { maxAbsDiff, randn, tempDir } from './onnx_helpers.js';
import { torchInit } from './onnx_torch_ref.js';

const S = 88;
let tmp: ReturnType<typeof tempDir>;
let weights: string;
let reader: OnnxLipReader;

before(async () => {
  tmp = tempDir('eflip-stream-');
  weights = torchInit(tmp.dir, 'T', 7);
  reader = await loadOnnxLipReader(weights, { device: 'cpu', threads: 1 });
});
after(async () => {
  await reader?.dispose();
  tmp?.cleanup();
});

const clipOf = (data: Float32Array, frames: number): Clip => ({
  data,
  frames,
  channels: 1,
  size: S,
});

test('streaming: every window equals the full-clip prediction of that window (window 29 and 8)', async () => {
  const T = 34;
  const data = randn(T * S * S, 55);
  const sub = (a: number, b: number) => clipOf(data.slice(a * S * S, b * S * S), b - a);
  for (const window of [29, 8]) {
    const steps: { windowStart: number; frame: number; logProbs: Float32Array }[] = [];
    const timeline = await streamClip(
      reader,
      { ...clipOf(data, T), fps: 25 },
      { window, onStep: (s) => steps.push(s) },
    );
    assert.equal(timeline.length, T);
    for (const t of window === 29 ? [0, 1, 17, 28, 29, 33] : [0, 5, 7, 8, 20, 33]) {
      const s = steps[t];
      assert.equal(s.frame, t);
      assert.equal(s.windowStart, Math.max(0, t - window + 1));
      const full = await reader.predictClip(sub(s.windowStart, t + 1));
      const d = maxAbsDiff(full, s.logProbs);
      assert.ok(d < 1e-3, `window ${window}, frame ${t}: max |diff| ${d}`);
    }
    assert.ok(Math.abs(timeline[T - 1].time - T / 25) < 1e-9);
  }
});

test('streaming fast mode: one frame of latency, close to the clip prediction', async () => {
  const T = 12;
  const data = randn(T * S * S, 56);
  const sr = new StreamingLipReader(reader, { window: 8, mode: 'fast' });
  let last;
  for (let t = 0; t < T; t++) last = await sr.push(data.slice(t * S * S, (t + 1) * S * S));
  assert.equal(last!.frame, T - 2);
  assert.equal(last!.windowStart, T - 9);
  const full = await reader.predictClip(clipOf(data.slice((T - 9) * S * S, (T - 1) * S * S), 8));
  const pFull = full.map(Math.exp),
    pFast = last!.logProbs.map(Math.exp);
  assert.ok(maxAbsDiff(pFull, pFast) < 0.05, 'fast mode stays close in probability');
});

test('bad clips are rejected with clear errors, and the reader keeps working', async () => {
  const good = clipOf(randn(3 * S * S, 1), 3);
  await assert.rejects(
    reader.predictClip(clipOf(new Float32Array(3 * 64 * 64), 3)),
    InferenceInputError,
  );
  await assert.rejects(
    reader.predictClip({ ...clipOf(new Float32Array(3 * 64 * 64), 3), size: 64 }),
    /64×64, the model expects 88×88/,
  );
  await assert.rejects(
    reader.predictClip({ data: new Float32Array(3 * 3 * S * S), frames: 3, channels: 3, size: S }),
    /3 channels, the model expects 1/,
  );
  await assert.rejects(reader.predictClip(clipOf(new Float32Array(0), 0)), /0 frames; at least 1/);
  const nan = randn(3 * S * S, 2);
  nan[2 * S * S + 17] = NaN;
  await assert.rejects(reader.predictClip(clipOf(nan, 3)), /NaN or infinite pixel in frame 2/);
  await assert.rejects(
    reader.predictBatch([good, clipOf(new Float32Array(10), 3)]),
    /clip 1: 10 values/,
  );
  const sr = new StreamingLipReader(reader);
  await assert.rejects(sr.push(new Float32Array(10)), /stream frame: expected 7744 values/);
  await assert.rejects(sr.push(new Float32Array(S * S).fill(Infinity)), /NaN or infinite/);
  // still fine afterwards
  const lp = await reader.predictClip(good);
  assert.equal(lp.length, 500);
  assert.ok(Math.abs(lp.reduce((a, v) => a + Math.exp(v), 0) - 1) < 1e-3);
});

test('truncated, corrupt, foreign and missing model files fail with ModelLoadError', async () => {
  const dir = tmp.dir;
  const onnx = exportOnnx(loadCheckpoint(weights), 'full');
  const cases: [string, Uint8Array, RegExp][] = [
    ['cut.onnx', onnx.subarray(0, Math.floor(onnx.length / 2)), /not a valid ONNX model/],
    ['cut-tail.onnx', onnx.subarray(0, onnx.length - 3), /not a valid ONNX model|metadata/],
    [
      'noise.onnx',
      randn(4096, 9).map((v) => v * 1e6) as unknown as Uint8Array,
      /not a valid ONNX model|onnxruntime could not load|not an eflip model/,
    ],
    ['empty.onnx', new Uint8Array(0), /too short|an empty file/],
    ['cut.safetensors', readFileSync(weights).subarray(0, 5000), /cut\.safetensors/],
  ];
  const g = new GraphBuilder('foreign');
  g.output(g.op('Relu', [g.input('x', [1, 3])]), 'y', [1, 3]);
  cases.push(['foreign.onnx', serializeModel(g), /not an eflip model/]);
  for (const [name, bytes, re] of cases) {
    const f = path.join(dir, name);
    writeFileSync(
      f,
      bytes instanceof Uint8Array ? bytes : new Uint8Array((bytes as Float32Array).buffer),
    );
    await assert.rejects(loadOnnxLipReader(f), (e: Error) => {
      assert.ok(e instanceof ModelLoadError, `${name}: ${e.name}: ${e.message}`);
      assert.match(e.message, re, name);
      return true;
    });
  }
  await assert.rejects(loadOnnxLipReader(path.join(dir, 'nope.onnx')), /no such model file/);
  // the full model alone cannot stream: clear message naming the missing half
  const full = path.join(dir, 'full.onnx');
  writeFileSync(full, onnx);
  const r = await loadOnnxLipReader(full, { device: 'cpu' });
  await assert.rejects(
    new StreamingLipReader(r).push(new Float32Array(S * S)),
    /full\.frontend\.onnx: no such model file/,
  );
  await r.dispose();
});

test('browser entry (onnxruntime-web wasm under Node): same predictions and streaming as onnxruntime-node', async () => {
  const web = await import('../src/infer/browser.js');
  const ck = loadCheckpoint(weights);
  const wr = await web.loadLipReader(exportOnnx(ck, 'full'), {
    frontend: exportOnnx(ck, 'frontend'),
    backend: exportOnnx(ck, 'backend'),
    wasmPaths: path.join(
      path.dirname(new URL(import.meta.url).pathname),
      '../../node_modules/onnxruntime-web/dist/',
    ),
    device: 'wasm',
  });
  try {
    assert.equal(wr.device, 'wasm');
    const T = 6;
    const data = randn(T * S * S, 91);
    const a = await wr.predictClip(clipOf(data, T));
    const b = await reader.predictClip(clipOf(data, T));
    assert.ok(maxAbsDiff(a, b) < 1e-3);
    const steps = await web.streamClip(wr, clipOf(data, T), { window: 4 });
    const full = await reader.predictClip(clipOf(data.slice(2 * S * S), 4));
    assert.equal(steps[T - 1].windowStart, 2);
    assert.ok(Math.abs(steps[T - 1].probability - Math.exp(Math.max(...full))) < 1e-3);
  } finally {
    await wr.dispose();
  }
});

test('streaming: a reused frame buffer and overlapping push() calls give the same results', async () => {
  const T = 7;
  const data = randn(T * S * S, 61);
  const ref = new StreamingLipReader(reader, { window: 4 });
  const want: Float32Array[] = [];
  for (let t = 0; t < T; t++)
    want.push((await ref.push(data.slice(t * S * S, (t + 1) * S * S))).logProbs);
  const sr = new StreamingLipReader(reader, { window: 4 });
  const buf = new Float32Array(S * S);
  const pending = [];
  for (let t = 0; t < T; t++) {
    buf.set(data.subarray(t * S * S, (t + 1) * S * S)); // camera-style: one buffer, refilled
    pending.push(sr.push(buf)); // not awaited: calls overlap
  }
  const got = await Promise.all(pending);
  got.forEach((g, t) => assert.ok(maxAbsDiff(g.logProbs, want[t]) < 1e-5, `frame ${t}`));
});
