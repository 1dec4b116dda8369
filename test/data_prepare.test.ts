import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { synthCorpus } from '../src/data/synth/index.js';
import { prepare, PrepareError } from '../src/data/prepare.js';
import { readShardHeader } from '../src/data/shard.js';
import { Loader } from '../src/data/loader.js';
import { tempDir } from './data_helpers.js';

const bin = new URL('../../bin/eflip.js', import.meta.url).pathname;
const root = path.join(tempDir('prep'), 'lrw');
const corpus = synthCorpus({
  out: root,
  words: ['ABOUT', 'WATER'],
  train: 7,
  val: 1,
  test: 1,
  seed: 4,
  jobs: 2,
});

test('prepare skips exactly the planted bad files (zero bytes, truncated mp4, text renamed .mp4) and reports why', async () => {
  await corpus;
  const w = path.join(root, 'WATER', 'train');
  writeFileSync(path.join(w, 'WATER_00090.mp4'), '');
  const good = readFileSync(path.join(w, 'WATER_00001.mp4'));
  writeFileSync(path.join(w, 'WATER_00091.mp4'), good.subarray(0, Math.floor(good.length / 2)));
  writeFileSync(
    path.join(w, 'WATER_00092.mp4'),
    'Text:  WATER\nthis is a transcript, not a video\n',
  );
  copyFileSync(path.join(w, 'WATER_00001.txt'), path.join(w, 'WATER_00090.txt'));
  const out = path.join(tempDir('prep-out'), 'shards');
  const s = await prepare({ lrw: root, out, jobs: 2, shardSize: 4 });
  assert.equal(s.clips, 21);
  assert.equal(s.prepared, 18);
  assert.deepEqual(s.skipped.map((k) => path.basename(k.path)).sort(), [
    'WATER_00090.mp4',
    'WATER_00091.mp4',
    'WATER_00092.mp4',
  ]);
  const kinds = Object.fromEntries(s.skipped.map((k) => [path.basename(k.path), k.kind]));
  assert.equal(kinds['WATER_00090.mp4'], 'empty');
  assert.ok(['truncated', 'corrupt'].includes(kinds['WATER_00091.mp4']));
  assert.equal(kinds['WATER_00092.mp4'], 'corrupt');
  assert.deepEqual(readFileSync(path.join(out, 'labels.txt'), 'utf8').trim().split('\n'), [
    'ABOUT',
    'WATER',
  ]);
  // every stored clip is a full 29×96×96 grey clip with its duration
  let n = 0;
  for (const split of ['train', 'val', 'test'])
    for (const f of readdirSync(path.join(out, split))) {
      const h = readShardHeader(path.join(out, split, f));
      assert.deepEqual([h.height, h.width, h.channels], [96, 96, 1]);
      for (const r of h.records) {
        assert.equal(r.frames, 29);
        assert.ok(r.duration! > 0.1 && r.duration! < 1.1);
        n++;
      }
    }
  assert.equal(n, 18);
  // a loader reads them; a different preparation into the same dir is refused
  const L = await Loader.open({
    data: { kind: 'shards', dir: out, split: 'train' },
    batchSize: 4,
    training: true,
    workers: 0,
  });
  for await (const b of L.batches(0)) assert.deepEqual(b.shape, [4, 1, 29, 88, 88]);
  await L.close();
  await assert.rejects(prepare({ lrw: root, out, crop: 'center' }), PrepareError);
});

test('prepare resumes after kill -9 without redoing finished shards', async () => {
  await corpus;
  const out = path.join(tempDir('prep-kill'), 'shards');
  const child = spawn(
    process.execPath,
    [bin, 'prepare', '--lrw', root, '--out', out, '--jobs', '1', '--shard-size', '1', '--quiet'],
    { stdio: 'ignore' },
  );
  const shards = () => {
    try {
      return readdirSync(path.join(out, 'train')).filter((f) => f.endsWith('.bin'));
    } catch {
      return [];
    }
  };
  const t0 = Date.now();
  while (shards().length < 3 && Date.now() - t0 < 60000)
    await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const before = shards();
  assert.ok(before.length >= 3, 'some shards were finished before the kill');
  const mtimes = new Map(before.map((f) => [f, statSync(path.join(out, 'train', f)).mtimeMs]));
  const s = await prepare({ lrw: root, out, jobs: 2, shardSize: 1 });
  assert.equal(s.prepared + s.skipped.length, s.clips);
  assert.equal(s.shards, s.clips);
  assert.ok(s.shardsReused >= before.length, `${s.shardsReused} reused, ${before.length} existed`);
  assert.ok(s.shardsWritten > 0 || before.length === s.shards);
  for (const [f, m] of mtimes)
    assert.equal(statSync(path.join(out, 'train', f)).mtimeMs, m, `${f} was not rewritten`);
  assert.ok(
    !readdirSync(path.join(out, 'train')).some((f) => f.includes('.tmp-')),
    'no temp files left',
  );
  // a third run does nothing
  const again = await prepare({ lrw: root, out, jobs: 2, shardSize: 1 });
  assert.equal(again.shardsWritten, 0);
});
