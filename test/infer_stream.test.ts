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
import {
  pushAll,
  StreamingLipReader,
  streamClip,
  timelineSegments,
  type StreamStep,
} from '../src/infer/streaming.js';
import type { FeatureRunner } from '../src/infer/feature_runner.js';
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

test('streaming with hop: a window every hop frames, each equal to the clip prediction; the frames between repeat it', async () => {
  const T = 20;
  const data = randn(T * S * S, 57);
  const frameAt = (t: number) => data.slice(t * S * S, (t + 1) * S * S);
  const sub = (a: number, b: number) => clipOf(data.slice(a * S * S, b * S * S), b - a);
  const hop = 3,
    window = 8;
  const sr = new StreamingLipReader(reader, { window, hop });
  const steps: StreamStep[] = [];
  for (let t = 0; t < T; t++) steps.push(await sr.push(frameAt(t)));
  for (let t = 0; t < T; t++) {
    const s = steps[t];
    assert.equal(s.frame, t - (t % hop), `frame ${t}: the latest window ends at a multiple of hop`);
    if (t % hop) {
      assert.equal(s, steps[t - 1], 'between windows push() repeats the latest step');
      continue;
    }
    assert.equal(s.windowStart, Math.max(0, t - window + 1));
    const full = await reader.predictClip(sub(s.windowStart, t + 1));
    const d = maxAbsDiff(full, s.logProbs);
    assert.ok(d < 1e-3, `hop ${hop}, frame ${t}: max |diff| ${d}`);
  }
  // fast mode, hop 2: windows end at even frames, equal to the hop-1 fast stream's windows
  const fast1 = new StreamingLipReader(reader, { window, mode: 'fast' });
  const fast2 = new StreamingLipReader(reader, { window, mode: 'fast', hop: 2 });
  for (let t = 0; t < T; t++) {
    const a = await fast1.push(frameAt(t));
    const b = await fast2.push(frameAt(t));
    assert.equal(b.frame, t === 0 ? 0 : t - 1 - ((t - 1) % 2));
    if (b.frame === a.frame) {
      assert.equal(b.windowStart, a.windowStart);
      assert.ok(maxAbsDiff(a.logProbs, b.logProbs) < 1e-4, `fast hop 2, frame ${t}`);
    }
  }
  const timeline = await streamClip(reader, { ...clipOf(data, T), fps: 25 }, { window, hop });
  assert.deepEqual(
    timeline.map((e) => e.frame),
    [0, 3, 6, 9, 12, 15, 18],
  );
  assert.throws(
    () => new StreamingLipReader(reader, { window, hop: 9 }),
    /hop must be an integer from 1 to the window \(8\), got 9/,
  );
  assert.throws(() => new StreamingLipReader(reader, { hop: 0.5 }), /hop must be/);
});

test('timeline segments: an entry covers the frames since the previous one (hop > 1)', () => {
  const entry = (frame: number, word: string, probability = 0.9) => ({
    frame,
    time: (frame + 1) / 25,
    windowStart: 0,
    word,
    probability,
    top: [],
  });
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  const one = timelineSegments([entry(0, 'A'), entry(3, 'A'), entry(6, 'A')], 25);
  assert.equal(one.length, 1);
  assert.ok(near(one[0].start, 0) && near(one[0].end, 7 / 25));
  const three = timelineSegments([entry(0, 'A'), entry(3, 'B'), entry(6, 'A')], 25);
  assert.deepEqual(
    three.map((s) => [s.word, +(s.start * 25).toFixed(6), +(s.end * 25).toFixed(6)]),
    [
      ['A', 0, 1],
      ['B', 1, 4],
      ['A', 4, 7],
    ],
  );
  // below minProb: a gap, so the entries on either side do not merge
  const gap = timelineSegments([entry(0, 'A'), entry(3, 'A', 0.1), entry(6, 'A')], 25, 0.5);
  assert.equal(gap.length, 2);
  assert.ok(near(gap[1].start, 4 / 25));
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
  const inf = randn(3 * S * S, 3);
  inf[S * S + 5] = -Infinity;
  await assert.rejects(reader.predictClip(clipOf(inf, 3)), /NaN or infinite pixel in frame 1/);
  // huge but finite values are not mistaken for infinite ones by the clip check; the network
  // overflows on them, and that answer (NaN) is refused rather than returned
  await assert.rejects(
    reader.predictClip(clipOf(new Float32Array(3 * S * S).fill(3e38), 3)),
    /not log-probabilities \(value NaN .*overflowed the network/,
  );
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

test('pushAll on a reader without lanes: one front-end or back-end run at a time, the results of awaited pushes', async () => {
  const T = 9;
  const data = randn(T * S * S, 62);
  const frames = Array.from({ length: T }, (_, t) => data.slice(t * S * S, (t + 1) * S * S));
  assert.equal(reader.frontendLanes, 0);
  let running = 0;
  let most = 0;
  const timed =
    <A extends unknown[]>(f: (...a: A) => Promise<Float32Array>) =>
    async (...a: A) => {
      most = Math.max(most, ++running);
      try {
        return await f(...a);
      } finally {
        running--;
      }
    };
  const runner: FeatureRunner = {
    channels: reader.channels,
    featureDim: reader.featureDim,
    preprocessing: reader.preprocessing,
    labels: reader.labels,
    frontendLanes: reader.frontendLanes,
    frontendOnLane: (f, b, t) => reader.frontendOnLane(f, b, t),
    frontend: timed((f: Float32Array, b: number, t: number) => reader.frontend(f, b, t)),
    backend: timed((f: Float32Array, b: number, t: number) => reader.backend(f, b, t)),
  };
  const want: StreamStep[] = [];
  const one = new StreamingLipReader(runner, { window: 5 });
  for (const f of frames) want.push(await one.push(f));
  const got: StreamStep[] = [];
  await pushAll(new StreamingLipReader(runner, { window: 5 }), frames, (s) => got.push(s));
  assert.equal(most, 1);
  got.forEach((g, t) => assert.ok(maxAbsDiff(g.logProbs, want[t].logProbs) < 1e-6, `${t}`));
});

test('a disposed reader refuses every call (both runtimes); streamClip checks its clip as predictClip does; a SharedArrayBuffer clip is named', async () => {
  const { loadLipReader } = await import('../src/infer/load_node.js');
  const { streamClip } = await import('../src/infer/streaming.js');
  const { ReaderDisposedError } = await import('../src/infer/types.js');
  const demo = new URL('../../assets/demo/model.safetensors', import.meta.url).pathname;
  for (const runtime of ['onnx', 'torch'] as const) {
    const r = await loadLipReader(demo, { runtime });
    const size = r.preprocessing.size;
    const good: Clip = { data: randn(3 * size * size, 1), frames: 3, channels: 1, size };
    assert.equal((await r.predictClip(good)).length, r.labels.length);
    // 5 values said to be 3 frames: streamed and answered before
    const bad: Clip = { data: new Float32Array(5), frames: 3, channels: 1, size };
    await assert.rejects(streamClip(r, bad, { window: 2 }), InferenceInputError);
    const shared = new Float32Array(new SharedArrayBuffer(good.data.byteLength));
    shared.set(good.data);
    await assert.rejects(r.predictClip({ ...good, data: shared }), /SharedArrayBuffer/);
    await r.dispose();
    await r.dispose(); // twice is fine
    await assert.rejects(
      r.predictClip(good),
      ReaderDisposedError,
      `${runtime}: predict after dispose`,
    );
    await assert.rejects(r.frontend(new Float32Array(3 * size * size), 1, 3), ReaderDisposedError);
  }
  // options that fell through to another runtime ('tf' ran libtorch) or device; topK's k
  await assert.rejects(
    loadLipReader(demo, { runtime: 'tf' as never }),
    /runtime must be onnx or torch, got "tf"/,
  );
  await assert.rejects(
    loadLipReader(demo, { device: 'tpu' as never }),
    /device must be auto, cpu or cuda, got "tpu"/,
  );
  const { topK } = await import('../src/infer/topk.js');
  for (const k of [0, -1, NaN, 1.5])
    assert.throws(() => topK(new Float32Array(3), ['a', 'b', 'c'], k), /k must be an integer >= 1/);
  assert.throws(() => topK(new Float32Array(3), ['a'], 1), /3 log-probabilities for 1 labels/);
});
