import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeShard, ShardReader } from '../src/data/shard.js';
import { Loader } from '../src/data/loader.js';
import {
  augmentSample,
  mixupBatch,
  resolveAugment,
  wordFrames,
  type ClipIn,
} from '../src/data/augment.js';
import { Rng } from '../src/data/rng.js';
import { tempDir } from './data_helpers.js';

// 40 clips of 29×96×96 grey; clip i has label i % 4 and a pixel pattern unique to (i, t, y, x)
const dir = tempDir('loader');
const N = 40;
function clipData(i: number): Uint8Array {
  const d = new Uint8Array(29 * 96 * 96);
  for (let t = 0; t < 29; t++)
    for (let y = 0; y < 96; y++)
      for (let x = 0; x < 96; x++) d[(t * 96 + y) * 96 + x] = (i * 37 + t * 5 + y + 2 * x) & 0xff;
  return d;
}
const ready = (async () => {
  mkdirSync(path.join(dir, 'train'), { recursive: true });
  writeFileSync(path.join(dir, 'labels.txt'), 'A\nB\nC\nD\n');
  for (let s = 0; s < 3; s++) {
    const ids = Array.from({ length: N }, (_, i) => i).filter((i) => i % 3 === s);
    await writeShard(
      path.join(dir, 'train', `shard-0000${s}.bin`),
      { split: 'train', height: 96, width: 96, channels: 1, fps: 25, crop: 'mouth', skipped: [] },
      ids.map((i) => ({
        path: `/clips/${i}.mp4`,
        label: i % 4,
        word: 'ABCD'[i % 4],
        duration: 0.2 + (i % 5) * 0.1,
        data: clipData(i),
        frames: 29,
      })),
    );
  }
})();

const spec = () => ({ kind: 'shards' as const, dir, split: 'train' as const });
async function collect(L: Loader, epoch: number, start = 0) {
  const out = [];
  for await (const b of L.batches(epoch, start)) out.push(b);
  return out;
}

test('shards round-trip records exactly', async () => {
  await ready;
  const r = new ShardReader(path.join(dir, 'train', 'shard-00001.bin'));
  assert.equal(r.header.records.length, 13);
  assert.deepEqual(r.read(2), clipData(7));
  assert.equal(r.header.records[2].path, '/clips/7.mp4');
  r.close();
});

test('loader is deterministic per seed/epoch, also resumed mid-epoch and across worker counts', async () => {
  await ready;
  const a = await Loader.open({ data: spec(), batchSize: 8, training: true, seed: 5, workers: 2 });
  const b = await Loader.open({ data: spec(), batchSize: 8, training: true, seed: 5, workers: 0 });
  const c = await Loader.open({ data: spec(), batchSize: 8, training: true, seed: 6, workers: 0 });
  assert.equal(a.stepsPerEpoch, 5);
  const ea = await collect(a, 3),
    eb = await collect(b, 3),
    ec = await collect(c, 3);
  assert.equal(ea.length, 5);
  for (let s = 0; s < 5; s++) {
    assert.deepEqual(ea[s].x, eb[s].x);
    assert.deepEqual(ea[s].labels, eb[s].labels);
    assert.deepEqual(ea[s].lambda, eb[s].lambda);
    assert.deepEqual(ea[s].shape, [8, 1, 29, 88, 88]);
  }
  assert.notDeepEqual(Array.from(ea[0].indices), Array.from(ec[0].indices));
  // every sample once per epoch; a different epoch is a different order
  assert.deepEqual(
    [...ea.flatMap((x) => Array.from(x.indices))].sort((p, q) => p - q),
    Array.from({ length: N }, (_, i) => i),
  );
  const e4 = await collect(b, 4);
  assert.notDeepEqual(Array.from(e4[0].indices), Array.from(eb[0].indices));
  // resume at step 3 of epoch 3: identical batches 3 and 4; state says where we are
  const resumed = await collect(b, 3, 3);
  assert.equal(resumed.length, 2);
  assert.deepEqual(resumed[0].x, eb[3].x);
  assert.deepEqual(resumed[1].labelsB, eb[4].labelsB);
  assert.deepEqual(b.state(), { seed: 5, epoch: 4, step: 0 });
  // labels follow the items
  for (const bt of ea)
    bt.paths.forEach((p, k) => assert.equal(bt.labels[k], Number(/(\d+)\.mp4/.exec(p)![1]) % 4));
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('eval loader: in order, centre crop, exact normalisation, last partial batch kept', async () => {
  await ready;
  const L = await Loader.open({
    data: spec(),
    batchSize: 16,
    workers: 0,
    augment: { mean: 0.5, std: 0.25 },
  });
  const bs = await collect(L, 0);
  assert.deepEqual(
    bs.map((x) => x.labels.length),
    [16, 16, 8],
  );
  const first = bs[0];
  const item = L.items[first.indices[0]];
  const id = Number(/(\d+)\.mp4/.exec(item.path)![1]);
  const raw = clipData(id);
  // x[0, 0, t=3, y=0, x=0] = raw[t=3, 4, 4] normalised
  const v = raw[(3 * 96 + 4) * 96 + 4];
  assert.ok(Math.abs(first.x[3 * 88 * 88] - (v / 255 - 0.5) / 0.25) < 1e-5);
  assert.equal(first.lambda, undefined);
  await L.close();
});

function testClip(duration: number | null = 0.4): ClipIn {
  const d = new Uint8Array(29 * 96 * 96);
  for (let t = 0; t < 29; t++)
    for (let y = 0; y < 96; y++)
      for (let x = 0; x < 96; x++) d[(t * 96 + y) * 96 + x] = x < 48 ? 200 : 20 + t;
  return { data: d, frames: 29, height: 96, width: 96, channels: 1, duration };
}

test('augmentation statistics: flip rate ≈ 0.5, crops in range, masks within bounds and filled with the clip mean', () => {
  const a = resolveAugment({ timeMask: { count: 2, maxFrames: 10 }, mean: 0, std: 1 }, true);
  const clip = testClip();
  const x = new Float32Array(29 * 88 * 88);
  let flips = 0;
  const n = 2000;
  const rng = new Rng(11);
  let maxLen = 0;
  for (let i = 0; i < n; i++) {
    const tr = augmentSample(clip, a, rng, x, 0);
    if (tr.flipped) flips++;
    assert.ok(tr.top >= 0 && tr.top <= 8 && tr.left >= 0 && tr.left <= 8);
    // the bright half is on the left unless flipped (frame 0, row 0, first/last column)
    const unmasked = (t: number) => !tr.masks.some(([s, e]) => t >= s && t < e);
    for (let t = 0; t < 29; t++)
      if (unmasked(t)) {
        const leftBright = x[t * 88 * 88] > 0.5,
          rightBright = x[t * 88 * 88 + 87] > 0.5;
        assert.equal(leftBright, !tr.flipped);
        assert.equal(rightBright, tr.flipped);
        break;
      }
    for (const [s, e] of tr.masks) {
      assert.ok(s >= 0 && e <= 29 && e - s >= 1 && e - s <= 10, `mask [${s}, ${e})`);
      maxLen = Math.max(maxLen, e - s);
      const vals = x.subarray(s * 88 * 88, e * 88 * 88);
      assert.ok(
        vals.every((v) => v === vals[0]),
        'masked frames are constant',
      );
    }
  }
  const rate = flips / n;
  assert.ok(Math.abs(rate - 0.5) < 0.05, `flip rate ${rate}`);
  assert.ok(maxLen >= 8, 'long masks occur');
  // mask value = clip mean (no flip/crop influence on the mean of this symmetric-in-rows clip: check with a 1-mask run)
  const one = resolveAugment(
    { timeMask: { count: 1, maxFrames: 29 }, mean: 0, std: 1, flip: 0 },
    true,
  );
  for (let k = 0; k < 50; k++) {
    const tr = augmentSample(clip, one, rng, x, 0);
    if (!tr.masks.length) continue;
    const [s] = tr.masks[0];
    let sum = 0,
      cnt = 0;
    for (let t = 0; t < 29; t++)
      for (let y = 0; y < 88; y++)
        for (let xx = 0; xx < 88; xx++) {
          sum += clip.data[(t * 96 + tr.top + y) * 96 + tr.left + xx];
          cnt++;
        }
    assert.ok(Math.abs(x[s * 88 * 88] - sum / cnt / 255) < 1e-4);
    break;
  }
});

test('temporal crop keeps the word; boundary marks it', () => {
  const a = resolveAugment(
    { temporalCrop: 20, boundary: 'array', timeMask: { count: 0, maxFrames: 0 } },
    true,
  );
  const rng = new Rng(3);
  for (let k = 0; k < 200; k++) {
    const dur = 0.1 + rng.next() * 0.6;
    const clip = testClip(dur);
    const [ws, we] = wordFrames(29, dur, 25);
    const x = new Float32Array(20 * 88 * 88),
      bnd = new Float32Array(20);
    const tr = augmentSample(clip, a, rng, x, 0, bnd, 0);
    assert.ok(tr.t0 >= 0 && tr.t0 + 20 <= 29);
    assert.ok(
      tr.t0 <= ws && tr.t0 + 20 >= we,
      `window [${tr.t0}, ${tr.t0 + 20}) keeps word [${ws}, ${we})`,
    );
    assert.equal(
      bnd.reduce((p, q) => p + q, 0),
      we - ws,
    );
  }
});

test('mixup: λ ~ Beta(0.4, 0.4), x = λ·x_i + (1-λ)·x_π(i), partner labels returned', () => {
  const a = resolveAugment({ mixup: { alpha: 0.4, p: 1 } }, true);
  const rng = new Rng(9);
  const lams: number[] = [];
  for (let k = 0; k < 4000; k++) {
    const B = 4,
      per = 3;
    const x = Float32Array.from({ length: B * per }, (_, i) => i);
    const orig = x.slice();
    const labels = Int32Array.from([0, 1, 2, 3]);
    const m = mixupBatch(x, B, per, labels, a, rng)!;
    const lam = m.lambda[0];
    lams.push(lam);
    if (k < 20)
      for (let i = 0; i < B; i++) {
        const j = m.labelsB[i];
        for (let c = 0; c < per; c++)
          assert.ok(
            Math.abs(x[i * per + c] - (lam * orig[i * per + c] + (1 - lam) * orig[j * per + c])) <
              1e-4,
          );
      }
  }
  const mean = lams.reduce((p, q) => p + q, 0) / lams.length;
  const varc = lams.reduce((p, q) => p + (q - mean) ** 2, 0) / lams.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(varc - 0.16 / (0.64 * 1.8)) < 0.01, `variance ${varc}`); // αβ/((α+β)²(α+β+1))
  const edges = lams.filter((l) => l < 0.1 || l > 0.9).length / lams.length;
  assert.ok(edges > 0.35, `U-shaped: ${edges} of λ near 0 or 1`);
  assert.equal(
    mixupBatch(
      new Float32Array(8),
      2,
      4,
      Int32Array.from([0, 1]),
      resolveAugment({ mixup: { alpha: 0, p: 1 } }, true),
      rng,
    ),
    null,
  );
});
