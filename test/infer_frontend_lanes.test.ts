// Front-end lanes (src/infer/frontend_lanes.ts): how work is cut (every output image exactly
// once), that a reader with lanes predicts what the full graph predicts, that it falls back to
// the full graph when a lane dies, that a pipelined stream uses a lane, and that idle lanes
// never keep a process alive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { availableParallelism } from 'node:os';
import { laneCount } from '../src/infer/frontend_lanes.js';
import { MAX_LANES } from '../src/infer/frontend_lane.js';
import { padTime, partFrames, placeFeatures, splitFrontend } from '../src/infer/frontend_split.js';
import { loadOnnxLipReader } from '../src/infer/load_node.js';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import type { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import type { FeatureRunner } from '../src/infer/feature_runner.js';
import { pushAll, StreamingLipReader, type StreamStep } from '../src/infer/streaming.js';
import { ReaderDisposedError, type Clip } from '../src/infer/types.js';
import { maxAbsDiff, randn, ROOT, tempDir } from './onnx_helpers.js';
import { torchInit } from './onnx_torch_ref.js';

test('splitFrontend: every output image once, at most `lanes` parts, each a valid run', () => {
  for (const [B, T, L] of [
    [1, 31, 2],
    [1, 3, 2],
    [1, 4, 2],
    [3, 3, 2],
    [4, 31, 2],
    [3, 31, 8],
    [2, 5, 8],
    [5, 10, 3],
    [1, 31, 1],
  ]) {
    const parts = splitFrontend(B, T, L);
    assert.ok(parts.length <= L, `${B}×${T} on ${L}: ${parts.length} parts`);
    const seen = new Int32Array(B * (T - 2));
    for (const p of parts) {
      assert.ok(p.t1 - p.t0 >= 3 && p.t0 >= 0 && p.t1 <= T && p.b0 < p.b1 && p.b1 <= B);
      for (let b = p.b0; b < p.b1; b++)
        for (let i = p.t0; i < p.t1 - 2; i++) seen[b * (T - 2) + i]++;
    }
    assert.deepEqual([...seen], new Array(B * (T - 2)).fill(1), `${B}×${T} on ${L}`);
  }
  assert.equal(splitFrontend(1, 31, 2).length, 2);
  assert.equal(splitFrontend(1, 3, 2).length, 1); // one image cannot be cut
});

test('partFrames/placeFeatures: a front-end run by parts equals the run in one piece', () => {
  // a stand-in front-end: feature k of image i = Σ over its 3 frames and C planes of weights·pixels
  const [B, C, T, S, d] = [3, 2, 9, 4, 5];
  const frames = randn(B * C * T * S * S, 3);
  const w = randn(3 * C * S * S * d, 4);
  const fe = (x: Float32Array, b: number, t: number) => {
    const out = new Float32Array(b * (t - 2) * d);
    for (let n = 0; n < b; n++)
      for (let i = 0; i < t - 2; i++)
        for (let k = 0; k < d; k++) {
          let acc = 0;
          for (let c = 0; c < C; c++)
            for (let j = 0; j < 3; j++)
              for (let p = 0; p < S * S; p++)
                acc +=
                  x[((n * C + c) * t + i + j) * S * S + p] * w[((j * C + c) * S * S + p) * d + k];
          out[(n * (t - 2) + i) * d + k] = acc;
        }
    return out;
  };
  const whole = fe(frames, B, T);
  for (const L of [2, 3, 4, 8]) {
    const out = new Float32Array(whole.length).fill(NaN);
    for (const p of splitFrontend(B, T, L))
      placeFeatures(
        out,
        T,
        d,
        p,
        fe(partFrames(frames, [B, C, T, S], p), p.b1 - p.b0, p.t1 - p.t0),
      );
    assert.ok(maxAbsDiff(out, whole) < 1e-4, `${L} lanes`);
  }
  // padTime: one zero frame each side of every clip's planes
  const padded = padTime(frames, [B, C, T, S]);
  assert.equal(padded.length, B * C * (T + 2) * S * S);
  assert.equal(padded[0], 0);
  assert.equal(padded[S * S], frames[0]);
  assert.equal(padded[(T + 1) * S * S], 0);
});

let tmp: ReturnType<typeof tempDir>;
let weights: string;
let laned: OnnxLipReader;
let single: OnnxLipReader;
const clips = (n: number, frames: number, seed: number): Clip[] =>
  Array.from({ length: n }, (_, i) => ({
    data: randn(frames * 88 * 88, seed + i),
    frames,
    channels: 1,
    size: 88,
  }));

before(async () => {
  tmp = tempDir('eflip-lanes-');
  weights = torchInit(tmp.dir, 'T', 5);
  laned = await loadOnnxLipReader(weights, { device: 'cpu', threads: 2 });
  single = await loadOnnxLipReader(weights, { device: 'cpu', threads: 1 });
});
after(async () => {
  await laned?.dispose();
  await single?.dispose();
  tmp?.cleanup();
});

test('a reader with lanes predicts what the full graph predicts (batch 1, 3 and 4; 29 and 7 frames)', async () => {
  assert.equal(laned.frontendLanes, 2);
  assert.equal(single.frontendLanes, 0);
  for (const batch of [clips(1, 29, 10), clips(3, 29, 20), clips(4, 7, 30)]) {
    const a = await laned.predictBatch(batch);
    const b = await single.predictBatch(batch);
    for (let i = 0; i < a.length; i++)
      assert.ok(maxAbsDiff(a[i], b[i]) < 1e-4, `clip ${i}: ${maxAbsDiff(a[i], b[i])}`);
  }
});

test('a pipelined stream (pushAll: two pushes in flight) runs its front-ends on a lane beside the back-end, with the results of one push at a time', async () => {
  const S = 88;
  const T = 14;
  const data = randn(T * S * S, 41);
  const frames = Array.from({ length: T }, (_, t) => data.slice(t * S * S, (t + 1) * S * S));
  const used = { lane: 0, beside: 0 };
  // the reader as streaming sees it, counting where its halves ran
  const runner: FeatureRunner = {
    channels: laned.channels,
    featureDim: laned.featureDim,
    preprocessing: laned.preprocessing,
    labels: laned.labels,
    get frontendLanes() {
      return laned.frontendLanes;
    },
    frontend: (f, b, t) => laned.frontend(f, b, t),
    frontendOnLane: async (f, b, t) => {
      const r = await laned.frontendOnLane(f, b, t);
      if (r) used.lane++;
      return r;
    },
    backend: (f, b, t, o) => {
      if (o?.besideLane) used.beside++;
      return laned.backend(f, b, t, o);
    },
  };
  for (const opts of [{ mode: 'exact' }, { mode: 'fast' }, { mode: 'exact', hop: 2 }] as const) {
    const one = new StreamingLipReader(runner, { window: 8, ...opts });
    const want: StreamStep[] = [];
    for (const f of frames) want.push(await one.push(f));
    assert.deepEqual(used, { lane: 0, beside: 0 }, 'one push at a time: all on this thread');
    const got: StreamStep[] = [];
    const piped = new StreamingLipReader(runner, { window: 8, ...opts });
    await pushAll(piped, frames, (s) => got.push(s));
    assert.equal(got.length, T);
    got.forEach((g, t) => {
      assert.equal(g.frame, want[t].frame, `${opts.mode} frame ${t}`);
      assert.equal(g.windowStart, want[t].windowStart);
      const d = maxAbsDiff(g.logProbs, want[t].logProbs);
      assert.ok(d < 1e-4, `${JSON.stringify(opts)}, push ${t}: max |diff| ${d}`);
    });
    assert.ok(used.lane >= T / 2 - 2, `${opts.mode}: front-ends on a lane ${used.lane}`);
    assert.ok(used.beside >= T / 2 - 2, `${opts.mode}: back-ends beside a lane ${used.beside}`);
    used.lane = used.beside = 0;
  }
});

test('an .onnx file: lanes with its front-end/back-end pair, the full graph without it or with a broken one', async () => {
  const ck = loadCheckpoint(weights);
  const file = path.join(tmp.dir, 'm.onnx');
  writeFileSync(file, exportOnnx(ck, 'full'));
  const batch = clips(1, 29, 50);
  const want = await single.predictBatch(batch);
  const opened = async () => {
    const r = await loadOnnxLipReader(file, { device: 'cpu', threads: 2 });
    try {
      const got = await r.predictBatch(batch);
      assert.ok(maxAbsDiff(got[0], want[0]) < 1e-4);
      return r.frontendLanes;
    } finally {
      await r.dispose();
    }
  };
  assert.equal(await opened(), 0);
  writeFileSync(path.join(tmp.dir, 'm.frontend.onnx'), exportOnnx(ck, 'frontend'));
  writeFileSync(path.join(tmp.dir, 'm.backend.onnx'), exportOnnx(ck, 'backend'));
  assert.equal(await opened(), 2);
  writeFileSync(path.join(tmp.dir, 'm.backend.onnx'), Buffer.from('not a model at all'));
  assert.equal(await opened(), 0);
});

test('a lane that dies: the call in flight and later ones run on the full graph', async () => {
  const r = await loadOnnxLipReader(weights, { device: 'cpu', threads: 2 });
  try {
    const batch = clips(2, 29, 40);
    const want = await single.predictBatch(batch);
    const pool = (r as unknown as { lanes: { lanes: { terminate(): Promise<void> }[] } }).lanes;
    const inFlight = r.predictBatch(batch);
    await pool.lanes[1].terminate();
    const got = await inFlight;
    assert.equal(r.frontendLanes, 0);
    const later = await r.predictBatch(batch);
    for (let i = 0; i < want.length; i++) {
      assert.ok(maxAbsDiff(got[i], want[i]) < 1e-4);
      assert.ok(maxAbsDiff(later[i], want[i]) < 1e-4);
    }
  } finally {
    await r.dispose();
  }
});

test('a pipelined stream whose lanes die goes on on this thread; disposing its reader mid-stream rejects with ReaderDisposedError', async () => {
  const S = 88;
  const T = 12;
  const data = randn(T * S * S, 43);
  const frames = Array.from({ length: T }, (_, t) => data.slice(t * S * S, (t + 1) * S * S));
  const want: StreamStep[] = [];
  const one = new StreamingLipReader(single, { window: 6 });
  for (const f of frames) want.push(await one.push(f));
  const r = await loadOnnxLipReader(weights, { device: 'cpu', threads: 2 });
  try {
    const pool = (r as unknown as { lanes: { lanes: { terminate(): Promise<void> }[] } }).lanes;
    const got: StreamStep[] = [];
    await pushAll(new StreamingLipReader(r, { window: 6 }), frames, (s) => {
      got.push(s);
      if (got.length === 4) for (const l of pool.lanes) void l.terminate();
    });
    assert.equal(r.frontendLanes, 0);
    got.forEach((g, t) => assert.ok(maxAbsDiff(g.logProbs, want[t].logProbs) < 1e-4, `${t}`));
    let steps = 0;
    await assert.rejects(
      pushAll(new StreamingLipReader(r, { window: 6 }), frames, () => {
        if (++steps === 3) void r.dispose();
      }),
      ReaderDisposedError,
    );
    assert.ok(steps < T);
  } finally {
    await r.dispose();
  }
});

test('idle lanes do not keep a process alive (reader never disposed)', () => {
  const script = `
    const { loadOnnxLipReader } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/infer/load_node.js'))});
    const r = await loadOnnxLipReader(${JSON.stringify(weights)}, { device: 'cpu', threads: 2 });
    const data = new Float32Array(29 * 88 * 88);
    await r.predictBatch([{ data, frames: 29, channels: 1, size: 88 }]);
    console.log('lanes', r.frontendLanes);`;
  const t0 = Date.now();
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stdout, /lanes 2/);
  assert.ok(Date.now() - t0 < 60_000);
});

test('laneCount: at most one lane per core and the threads asked for; EFLIP_ORT_LANES=0 none, an unknown value refused', () => {
  const cores = availableParallelism();
  assert.equal(laneCount(1), 1);
  assert.equal(laneCount(64), Math.min(MAX_LANES, cores));
  assert.equal(laneCount(), Math.min(MAX_LANES, cores));
  const saved = process.env.EFLIP_ORT_LANES;
  try {
    process.env.EFLIP_ORT_LANES = '0';
    assert.equal(laneCount(4), 1);
    process.env.EFLIP_ORT_LANES = 'off';
    assert.throws(() => laneCount(4), /EFLIP_ORT_LANES="off": expected 0 or 1/);
  } finally {
    if (saved === undefined) delete process.env.EFLIP_ORT_LANES;
    else process.env.EFLIP_ORT_LANES = saved;
  }
});
