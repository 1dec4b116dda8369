// DistributedSampler semantics in the shard loader: W ranks with batch b read, step by step,
// exactly the clips (and the augmented pixels) one loader with batch W·b reads; resumable mid-epoch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeShard } from '../src/data/shard.js';
import { Loader, type Batch } from '../src/data/loader.js';
import { tempDir } from './data_helpers.js';

const dir = tempDir('sampler');
const N = 36;
const ready = (async () => {
  mkdirSync(path.join(dir, 'train'), { recursive: true });
  writeFileSync(path.join(dir, 'labels.txt'), 'A\nB\nC\n');
  const clip = (i: number) =>
    Uint8Array.from({ length: 12 * 40 * 40 }, (_, k) => (i * 53 + k * 7) & 0xff);
  await writeShard(
    path.join(dir, 'train', 'shard-00000.bin'),
    { split: 'train', height: 40, width: 40, channels: 1, fps: 25, crop: 'mouth', skipped: [] },
    Array.from({ length: N }, (_, i) => ({
      path: `/c/${i}.mp4`,
      label: i % 3,
      word: 'ABC'[i % 3],
      duration: 0.3,
      data: clip(i),
      frames: 12,
    })),
  );
})();

const open = (batchSize: number, shard?: { rank: number; world: number }) =>
  Loader.open({
    data: { kind: 'shards', dir, split: 'train' },
    batchSize,
    training: true,
    seed: 5,
    workers: 0,
    augment: { crop: 32, frames: 12, mixup: { alpha: 0, p: 0 } },
    ...(shard ? { shard } : {}),
  });
async function collect(L: Loader, epoch: number, start = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of L.batches(epoch, start)) out.push(b);
  return out;
}
/** clip index → its augmented sample */
function samples(b: Batch): Map<number, string> {
  const per = b.x.length / b.indices.length;
  return new Map(
    Array.from(b.indices, (i, k) => [
      i,
      Buffer.from(b.x.buffer, b.x.byteOffset + k * per * 4, per * 4).toString('base64'),
    ]),
  );
}

test('3 ranks × batch 2 read the clips and augmentations of 1 loader × batch 6, step by step, and resume mid-epoch', async () => {
  await ready;
  const one = await open(6);
  const ranks = await Promise.all([0, 1, 2].map((r) => open(2, { rank: r, world: 3 })));
  for (const epoch of [0, 1]) {
    const ref = await collect(one, epoch);
    const parts = await Promise.all(ranks.map((L) => collect(L, epoch)));
    assert.equal(ref.length, 6);
    for (const p of parts) assert.equal(p.length, ref.length);
    for (let s = 0; s < ref.length; s++) {
      const want = samples(ref[s]);
      const got = new Map<number, string>();
      for (const p of parts)
        for (const [i, v] of samples(p[s])) {
          assert.ok(!got.has(i), `clip ${i} on two ranks`);
          got.set(i, v);
        }
      assert.deepEqual(
        [...got.keys()].sort((a, b) => a - b),
        [...want.keys()].sort((a, b) => a - b),
        `epoch ${epoch} step ${s}`,
      );
      for (const [i, v] of want)
        assert.equal(got.get(i), v, `clip ${i}: the same augmentation on any world size`);
    }
  }
  // resumed at step 4: the same batches as the uninterrupted epoch's tail
  const full = await collect(ranks[1], 1);
  const tail = await collect(ranks[1], 1, 4);
  assert.deepEqual(
    tail.map((b) => [...b.indices]),
    full.slice(4).map((b) => [...b.indices]),
  );
  for (const L of [one, ...ranks]) await L.close();
});
