// Memory: 10,000 training steps of a tiny conv net inside tidy() leak neither handles nor
// native memory; tensors dropped without dispose() are reclaimed by the GC backstop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as E from '../src/engine/index.js';
import { F, tidy, keep, noGrad, liveTensors } from '../src/engine/index.js';
import { native } from '../src/engine/native.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('10,000 conv-net steps in tidy(): live handles constant, RSS flat', (t) => {
  E.manualSeed(0);
  const params = [
    E.randn([4, 1, 3, 3]).mul_(0.3),
    E.zeros([4]),
    E.randn([3, 4]).mul_(0.3),
    E.zeros([3]),
  ].map((p) => keep(p.requiresGrad_()));
  const [w1, b1, w2, b2] = params;
  const bnMean = keep(E.zeros([4])),
    bnVar = keep(E.ones([4]));
  const x = keep(E.randn([8, 1, 8, 8]));
  const target = keep(E.tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int64' }));
  const step = (): number =>
    tidy(() => {
      let h = F.conv2d(x, w1, b1, { padding: 1 });
      h = F.batchNorm(h, bnMean, bnVar, null, null, { training: true }).relu();
      const logits = F.linear(F.adaptiveAvgPool2d(h, 1).flatten(1), w2, b2);
      const loss = F.crossEntropy(logits, target, { labelSmoothing: 0.1 });
      loss.backward();
      noGrad(() => {
        for (const p of params) {
          p.sub_(p.grad!, 0.05);
          p.zeroGrad();
        }
      });
      return loss.item();
    });
  const first = step();
  for (let i = 0; i < 1999; i++) step();
  gc();
  const live0 = liveTensors();
  const rss0 = process.memoryUsage().rss;
  let last = 0;
  for (let i = 0; i < 8000; i++) {
    last = step();
    if (i % 3000 === 0) assert.equal(liveTensors(), live0, `live tensors changed at step ${i}`);
  }
  gc();
  const grownMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
  t.diagnostic(
    `RSS growth after warm-up: ${grownMb.toFixed(2)} MB; loss ${first.toFixed(4)} -> ${last.toFixed(4)}`,
  );
  assert.equal(liveTensors(), live0);
  assert.ok(grownMb < 4, `RSS grew by ${grownMb.toFixed(2)} MB over 8,000 steps`);
  assert.ok(last < first, `training should reduce the loss (${first} -> ${last})`);
  for (const t of [...params, bnMean, bnVar, x, target]) t.dispose();
});

test('tensors dropped without dispose() are freed by the GC backstop', async () => {
  const before = liveTensors();
  (() => {
    for (let i = 0; i < 100; i++) E.ones([16]).add(1);
  })();
  assert.ok(liveTensors() >= before + 100);
  for (let i = 0; i < 5 && liveTensors() > before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(liveTensors(), before);
});

test('tidy() releases everything when the callback throws', () => {
  const before = liveTensors();
  assert.throws(
    () =>
      tidy(() => {
        E.ones([3]).mul(2);
        E.ones([2]).add(E.ones([5]));
      }),
    E.ShapeError,
  );
  assert.equal(liveTensors(), before);
});

test('native tensor bytes are reported to V8 (AdjustExternalMemory backstop)', () => {
  const base = native.externalMemory();
  const big = E.zeros([16 * 2 ** 20]); // 64 MiB
  assert.ok(native.externalMemory() - base >= 64 * 2 ** 20, 'allocation reported');
  const view = big.reshape([2 ** 20, 16]); // views share storage: not counted twice
  assert.ok(native.externalMemory() - base < 65 * 2 ** 20, 'views not double-counted');
  view.dispose();
  big.dispose();
  tidy(() => E.ones([1])); // the next op flushes the release
  assert.ok(Math.abs(native.externalMemory() - base) < 2 ** 20, 'release reported');
});
