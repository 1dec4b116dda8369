// The webcam's 25 frames/s timeline (web/slots.js): camera frames at any rate, jittered, with a
// pause, are put on 40 ms slots by their capture times — 25 slots per second of camera time,
// frames between slots dropped, missing slots repeated — and the streaming reader's
// store-only push (`evaluate: false`, what a repeat uses) leaves its answers unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './onnx_helpers.js';
import { StreamingLipReader } from '../src/infer/streaming.js';
import type { FeatureRunner } from '../src/infer/feature_runner.js';

const { SlotScheduler, frameTimeMs } = await import(
  pathToFileURL(path.join(ROOT, 'web/slots.js')).href
);

interface Placed {
  use: boolean;
  slot: number;
  repeat?: number;
}

/** Camera frames at `fps` for `seconds` (times from `start` ms, each moved by `jitter(k)` ms)
 *  through a scheduler → what it said for each, and the slots fed (used frames + repeats). */
function run(fps: number, seconds: number, jitter = (_k: number) => 0, start = 12345.6) {
  const sch = new SlotScheduler();
  const times = Array.from(
    { length: Math.round(fps * seconds) },
    (_, k) => start + (1000 * k) / fps + jitter(k),
  );
  const out: Placed[] = times.map((t) => sch.frame(t));
  return { sch, times, out, fed: out.reduce((n, p) => n + (p.use ? 1 + p.repeat! : 0), 0) };
}

/** Slots are consecutive: each used frame's slot is the previous used slot + its repeats + 1. */
function assertContiguous(out: Placed[]) {
  let last = -1;
  for (const p of out.filter((x) => x.use)) {
    assert.equal(p.slot, last + 1 + p.repeat!, `slot ${p.slot} after ${last} with ${p.repeat}`);
    last = p.slot;
  }
}

/** Each used frame lies within half a slot (20 ms) of its slot's time. */
function assertNear(times: number[], out: Placed[]) {
  const t0 = times[out.findIndex((p) => p.use)];
  out.forEach((p, k) => {
    if (p.use) assert.ok(Math.abs(times[k] - t0 - 40 * p.slot) <= 20 + 1e-9, `frame ${k}`);
  });
}

test('camera slots: 30 and 50 frames/s cameras give 25 frames per second, dropping the rest untracked', () => {
  for (const fps of [30, 50, 60]) {
    const { sch, times, out, fed } = run(fps, 10);
    const span = (times[times.length - 1] - times[0]) / 1000;
    // 25 slots per second of camera time, the first frame in slot 0 (± 1 for the ends)
    assert.ok(Math.abs(fed - (25 * span + 1)) <= 1, `${fps} fps: ${fed} slots in ${span} s`);
    assert.equal(sch.stats.repeats, 0, `${fps} fps: nothing to repeat`);
    assert.equal(sch.stats.used + sch.stats.dropped, times.length);
    assert.equal(sch.stats.used, fed);
    if (fps === 50)
      // frame 1 lies half a slot after frame 0 and rounds up (as ffmpeg's round=near), so
      // frames 1, 3, 5, ... take the slots after the first
      assert.deepEqual(
        out.slice(0, 7).map((p) => p.use),
        [true, true, false, true, false, true, false],
        'every other frame of a 50 frames/s camera',
      );
    if (fps === 30) assert.equal(sch.stats.dropped, times.length / 6, 'one frame in six dropped');
    assertContiguous(out);
    assertNear(times, out);
  }
});

test('camera slots: 15 frames/s (or a slow page) fills 25 slots per second with repeats', () => {
  const { sch, times, out, fed } = run(15, 10);
  const span = (times[times.length - 1] - times[0]) / 1000;
  assert.ok(Math.abs(fed - (25 * span + 1)) <= 1, `${fed} slots in ${span} s`);
  assert.equal(sch.stats.dropped, 0, 'every frame used');
  // 15 → 25: two frames in three take two slots (one repeat), every third one slot
  assert.deepEqual(
    out.slice(0, 4).map((p) => [p.slot, p.repeat]),
    [
      [0, 0],
      [2, 1],
      [3, 0],
      [5, 1],
    ],
  );
  assert.ok(
    Math.abs(sch.stats.repeats / fed - 0.4) < 0.01,
    `${sch.stats.repeats} repeats of ${fed}`,
  );
  assertContiguous(out);
  assertNear(times, out);
  // a page that sees every third frame of a 30 frames/s camera (10 a second): 25 a second too
  const page = new SlotScheduler();
  let n = 0;
  for (let k = 0; k < 300; k += 3) {
    const p = page.frame((1000 * k) / 30);
    if (p.use) n += 1 + p.repeat;
  }
  assert.equal(n, Math.round((25 * 297) / 30) + 1);
});

test('camera slots: jittered capture times stay on the 25 frames/s timeline', () => {
  // ±8 ms of jitter (a USB camera's timestamps), deterministic pseudo-random
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (const fps of [15, 30, 50]) {
    const { times, out, fed } = run(fps, 20, () => 8 * rnd());
    const t0 = times[0];
    const span = (times[times.length - 1] - t0) / 1000;
    assert.ok(Math.abs(fed - (25 * span + 1)) <= 1, `${fps} fps jittered: ${fed} in ${span} s`);
    assertContiguous(out);
    assertNear(times, out);
  }
});

test('camera slots: a pause is a held frame, at most a window of repeats; a clock that goes back restarts', () => {
  const sch = new SlotScheduler({ maxRepeat: 28 });
  const fed: number[] = [];
  const push = (t: number) => {
    const p = sch.frame(t);
    if (p.use) fed.push(p.repeat + 1);
    return p;
  };
  for (let k = 0; k < 30; k++) push(40 * k); // slots 0..29
  // the camera stops for 200 ms: the frame after it fills the 5 slots since (4 repeats)
  assert.deepEqual(push(29 * 40 + 200), { use: true, slot: 34, repeat: 4 });
  // a 3 s pause (75 slots): 28 repeats (the window is then only the held frame and the new
  // one), the rest cut — the timeline itself keeps the camera's time
  const p = push(34 * 40 + 3000);
  assert.deepEqual(p, { use: true, slot: 34 + 75, repeat: 28 });
  assert.equal(sch.stats.cut, 75 - 1 - 28);
  // the next frame 40 ms on takes the next slot
  assert.deepEqual(push(34 * 40 + 3040), { use: true, slot: 110, repeat: 0 });
  // the camera's clock jumps back (a restarted track): the frame takes the next slot and the
  // timeline continues from it
  assert.deepEqual(push(500), { use: true, slot: 111, repeat: 0 });
  assert.deepEqual(push(540), { use: true, slot: 112, repeat: 0 });
  assert.deepEqual(push(550), { use: false, slot: 112 });
  assert.throws(() => sch.frame(NaN), /camera frame time NaN is not a number/);
  // frame times: captureTime, else mediaTime (seconds), else expectedDisplayTime, else now
  assert.equal(frameTimeMs(1, { captureTime: 5, mediaTime: 9, expectedDisplayTime: 7 }), 5);
  assert.equal(frameTimeMs(1, { mediaTime: 0.25, expectedDisplayTime: 7 }), 250);
  assert.equal(frameTimeMs(1, { expectedDisplayTime: 7 }), 7);
  assert.equal(frameTimeMs(1, {}), 1);
});

test('streaming reader: store-only pushes (repeats) give the same answers as evaluated ones', async () => {
  // a tiny feature runner in plain JS: the front-end sums each frame triplet, the back-end's
  // "log-probabilities" are sums over the window — any error in which frames the cached
  // features come from shows up in the numbers
  const S = 2;
  const runner = {
    channels: 1,
    featureDim: 2,
    labels: ['A', 'B'],
    preprocessing: { size: S },
    frontend: async (input: Float32Array, n: number) => {
      const out = new Float32Array(n * 2);
      const per = 3 * S * S;
      for (let b = 0; b < n; b++)
        for (let k = 0; k < 3; k++)
          for (let i = 0; i < S * S; i++)
            out[b * 2 + (k === 1 ? 0 : 1)] += input[b * per + k * S * S + i] * (k + 1);
      return out;
    },
    backend: async (win: Float32Array, _b: number, t: number) => {
      const lp = new Float32Array(2);
      for (let i = 0; i < t; i++) {
        lp[0] += win[2 * i] * (i + 1);
        lp[1] += win[2 * i + 1] * (t - i);
      }
      return lp;
    },
  } as unknown as FeatureRunner;
  const frame = (v: number) => new Float32Array(S * S).fill(v);
  // frames with repeats: a new value, then it held for a few slots
  const seq = [1, 2, 2, 2, 3, 4, 4, 5, 5, 5, 5, 5, 6, 7, 8, 8, 9];
  for (const mode of ['exact', 'fast'] as const) {
    const every = new StreamingLipReader(runner, { window: 5, mode });
    const some = new StreamingLipReader(runner, { window: 5, mode });
    for (let i = 0; i < seq.length; i++) {
      const a = await every.push(frame(seq[i]));
      // a repeat (the same value as the next frame's predecessor) only stored
      const held = i + 1 < seq.length && seq[i + 1] === seq[i];
      const b = await some.push(frame(seq[i]), { evaluate: !held });
      if (!held) assert.deepEqual([...b.logProbs], [...a.logProbs], `${mode}, frame ${i}`);
    }
    assert.equal(some.framesSeen, seq.length);
  }
});
