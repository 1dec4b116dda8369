import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricAccumulator, metricsMarkdown } from '../src/train/metrics.js';
import { lrAt } from '../src/train/schedule.js';

// one-hot-ish log-probs predicting `pred`, with the truth ranked `rank` when given
function scores(C: number, pred: number): number[] {
  return Array.from({ length: C }, (_, c) => Math.log(c === pred ? 0.7 : 0.3 / (C - 1)));
}

test('exact metrics on a hand-worked example (not batch means)', () => {
  const m = new MetricAccumulator(['a', 'b', 'c']);
  const pairs = [
    [0, 0],
    [0, 0],
    [0, 1],
    [1, 1],
    [1, 2],
    [2, 2],
  ]; // (truth, pred)
  const batch = (ps: number[][]) =>
    m.update(
      ps.flatMap(([, p]) => scores(3, p)),
      ps.map(([t]) => t),
    );
  batch(pairs.slice(0, 4)); // batch accuracy 3/4
  batch(pairs.slice(4)); // batch accuracy 1/2 → mean of batch means 0.625
  const r = m.result();
  assert.equal(r.samples, 6);
  assert.equal(r.correct, 4);
  assert.ok(Math.abs(r.top1 - 4 / 6) < 1e-12);
  assert.ok(Math.abs(r.precisionWeighted - 0.75) < 1e-12);
  assert.ok(Math.abs(r.recallWeighted - 4 / 6) < 1e-12);
  assert.ok(Math.abs(r.f1Weighted - (3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6) < 1e-12);
  assert.ok(Math.abs(r.balancedAccuracy - (2 / 3 + 0.5 + 1) / 3) < 1e-12);
  assert.ok(Math.abs(r.loss - -(4 * Math.log(0.7) + 2 * Math.log(0.15)) / 6) < 1e-9);
  assert.equal(r.top5, 1); // 3 classes: always within top 5
  assert.deepEqual(
    r.perWord.map((w) => [w.word, w.correct, w.total]),
    [
      ['a', 2, 3],
      ['b', 1, 2],
      ['c', 1, 1],
    ],
  );
  assert.deepEqual(r.confusion, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  assert.equal(r.confusedPairs.length, 2);
  assert.ok(r.confusedPairs.every((p) => p.count === 1));
  const md = metricsMarkdown(r);
  assert.match(md, /\| top-1 \| 66\.67 % \(4\/6\) \|/);
  assert.match(md, /\| b \| c \| 1 \| 50\.00 % \|/);
});

test('top-5 counts the true class rank exactly', () => {
  const C = 8;
  const m = new MetricAccumulator(Array.from({ length: C }, (_, i) => `w${i}`));
  const lp = [0, -1, -2, -3, -4, -5, -6, -7]; // class k has rank k
  for (let t = 0; t < C; t++) m.update(lp, [t]);
  const r = m.result();
  assert.equal(r.correct, 1);
  assert.equal(r.correctTop5, 5);
  assert.throws(() => m.update(lp, [C]), /target 8 outside/);
  assert.throws(() => m.update(lp.slice(1), [0]), /expected 1×8/);
});

test('warmup then cosine: continuous, peak at the junction, floor at the end', () => {
  const spec = { lr: 1e-3, totalSteps: 1000, warmupSteps: 100, minLr: 1e-5 };
  assert.ok(Math.abs(lrAt(spec, 99) - 1e-3) < 1e-15);
  assert.ok(Math.abs(lrAt(spec, 100) - 1e-3) < 1e-15);
  assert.ok(lrAt(spec, 0) > 0 && lrAt(spec, 0) < 2e-5);
  let maxJump = 0;
  for (let s = 1; s < 1000; s++)
    maxJump = Math.max(maxJump, Math.abs(lrAt(spec, s) - lrAt(spec, s - 1)));
  assert.ok(maxJump <= 1e-3 / 100 + 1e-12, `largest step-to-step change ${maxJump}`);
  assert.ok(Math.abs(lrAt(spec, 550) - (1e-5 + (1e-3 - 1e-5) * 0.5)) < 1e-12);
  assert.ok(lrAt(spec, 999) < 1.01e-5 + 1e-7);
  assert.ok(Math.abs(lrAt({ lr: 1, totalSteps: 10, warmupSteps: 0 }, 0) - 1) < 1e-15);
});
