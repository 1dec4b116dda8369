import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { prepare } from '../src/data/prepare.js';
import { Loader, type Batch } from '../src/data/loader.js';
import * as path from 'node:path';
import { synthCorpus, synthClip, makeSpeaker, synthTasks } from '../src/data/synth/index.js';
import { indexLrw } from '../src/data/lrw.js';
import { lrwMouthCrop } from '../src/data/crop.js';
import { tempDir } from './data_helpers.js';

const bin = new URL('../../bin/eflip.js', import.meta.url).pathname;
const root = path.join(tempDir('synth'), 'lrw');

test('eflip synth writes an LRW-layout corpus that ffprobe and the indexer accept', async () => {
  const r = spawnSync(
    process.execPath,
    [
      bin,
      'synth',
      '--out',
      root,
      '--words',
      'ABOUT,MONEY,WATER',
      '--train',
      '2',
      '--val',
      '1',
      '--test',
      '1',
      '--seed',
      '3',
      '--quiet',
      '--landmarks',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const idx = await indexLrw(root);
  assert.deepEqual(idx.words, ['ABOUT', 'MONEY', 'WATER']);
  assert.equal(idx.clips.length, 12);
  assert.equal(idx.problems.length, 0);
  for (const c of idx.clips) {
    const p = JSON.parse(
      execFileSync(
        'ffprobe',
        [
          '-v',
          'error',
          '-count_frames',
          '-select_streams',
          'v:0',
          '-show_entries',
          'stream=width,height,r_frame_rate,nb_read_frames,codec_name,pix_fmt',
          '-of',
          'json',
          c.path,
        ],
        { encoding: 'utf8' },
      ),
    ).streams[0];
    assert.deepEqual(
      [p.width, p.height, p.r_frame_rate, Number(p.nb_read_frames), p.codec_name, p.pix_fmt],
      [256, 256, '25/1', 29, 'h264', 'yuv420p'],
      c.path,
    );
    assert.ok(c.duration! > 0.15 && c.duration! < 1.05, `${c.path}: duration ${c.duration}`);
  }
  // train/val/test speakers are disjoint
  const speakers = (split: string) =>
    new Set(
      idx.clips
        .filter((c) => c.split === split)
        .map(
          (c) => /Speaker: (\S+)/.exec(readFileSync(c.path.replace(/\.mp4$/, '.txt'), 'utf8'))![1],
        ),
    );
  const tr = speakers('train'),
    va = speakers('val'),
    te = speakers('test');
  for (const s of tr) assert.ok(!va.has(s) && !te.has(s));
  for (const s of va) assert.ok(!te.has(s));
  // ground-truth landmarks: T×68×2, mouth points around the LRW mouth position; prepare --crop landmarks uses them
  for (const c of idx.clips) {
    const lm = JSON.parse(readFileSync(c.path.replace(/\.mp4$/, '.landmarks.json'), 'utf8'))
      .landmarks as number[][][];
    assert.equal(lm.length, 29);
    assert.ok(lm.every((f) => f.length === 68 && f.every((p) => p.length === 2)));
    const mx = lm[14].slice(48).reduce((a, p) => a + p[0], 0) / 20,
      my = lm[14].slice(48).reduce((a, p) => a + p[1], 0) / 20;
    assert.ok(Math.abs(mx - 127) < 14 && Math.abs(my - 163) < 14, `mouth centre (${mx}, ${my})`);
  }
  const shards = path.join(root, '..', 'shards-lm');
  const pr = await prepare({ lrw: root, out: shards, crop: 'landmarks', jobs: 1 });
  assert.equal(pr.prepared, 12);
  // the loader reading the mp4s directly gives exactly the batches it gives from prepared shards
  const plain = path.join(root, '..', 'shards-mouth');
  await prepare({ lrw: root, out: plain, jobs: 1 });
  const fromShards = await Loader.open({
    data: { kind: 'shards', dir: plain, split: 'test' },
    batchSize: 2,
    workers: 0,
  });
  const fromMp4 = await Loader.open({
    data: { kind: 'lrw', root, split: 'test' },
    batchSize: 2,
    workers: 1,
  });
  const a: Batch[] = [],
    b: Batch[] = [];
  for await (const x of fromShards.batches(0)) a.push(x);
  for await (const x of fromMp4.batches(0)) b.push(x);
  assert.equal(a.length, 2);
  for (let i = 0; i < a.length; i++) {
    assert.deepEqual(a[i].x, b[i].x);
    assert.deepEqual(a[i].labels, b[i].labels);
    assert.deepEqual(a[i].paths, b[i].paths);
  }
  await Promise.all([fromShards.close(), fromMp4.close()]);
  // re-running skips everything
  const again = await synthCorpus({
    out: root,
    words: ['ABOUT', 'MONEY', 'WATER'],
    train: 2,
    val: 1,
    test: 1,
    seed: 3,
    landmarks: true,
    speakers: { train: 1000, val: 200, test: 200 },
  });
  assert.equal(again.written, 0);
  // montage
  const png = path.join(root, '..', 'm.png');
  const m = spawnSync(
    process.execPath,
    [bin, 'montage', '--lrw', root, '--out', png, '--words', 'all', '--per-word', '1'],
    { encoding: 'utf8' },
  );
  assert.equal(m.status, 0, m.stderr);
  const head = readFileSync(png);
  assert.equal(head.toString('latin1', 1, 4), 'PNG');
  assert.equal(head.readUInt32BE(16), 10 * 98); // 29 frames every 3rd → 10 tiles of 96 + 2
  assert.equal(head.readUInt32BE(20), 3 * 98);
});

test('synthetic clips are deterministic per seed and the mouth moves with the word', async () => {
  const sp = makeSpeaker(12, 0);
  const a = await synthClip('ABOUT', sp, 99),
    b = await synthClip('ABOUT', sp, 99),
    c = await synthClip('ABOUT', sp, 100);
  assert.deepEqual(a.data, b.data);
  assert.notDeepEqual(a.data, c.data);
  assert.deepEqual(
    synthTasks({ out: '/x', words: ['ABOUT'], train: 3, val: 1, test: 1, seed: 2 }),
    synthTasks({ out: '/x', words: ['ABOUT'], train: 3, val: 1, test: 1, seed: 2 }),
  );
  // motion energy: the mouth window changes much more than the forehead over the clip
  const energy = (v: typeof a, top: number, left: number) => {
    let e = 0;
    for (let t = 1; t < v.frames; t++)
      for (let y = 0; y < 40; y++)
        for (let x = 0; x < 60; x++)
          for (let ch = 0; ch < 3; ch++) {
            const i = ((y + top) * 256 + x + left) * 3 + ch;
            e += Math.abs(v.data[t * 256 * 256 * 3 + i] - v.data[(t - 1) * 256 * 256 * 3 + i]);
          }
    return e;
  };
  const quiet = await synthClip('ABOUT', { ...sp, motion: 0, noise: 0 }, 5);
  assert.ok(
    energy(quiet, 143, 97) > 5 * energy(quiet, 40, 97),
    'mouth region moves, forehead is still',
  );
  // opening peaks mid-clip (the word is centred) and the clip starts and ends at rest
  const open = quiet.mouth.map((m) => m.open);
  const peak = open.indexOf(Math.max(...open));
  assert.ok(peak > 6 && peak < 23, `peak opening at frame ${peak}`);
  assert.ok(open[0] < 0.1 && open[28] < 0.1);
  // words with different visemes differ in their opening trajectories; the LRW mouth window holds the lips
  const m1 = (await synthClip('MONEY', sp, 5)).mouth.map((m) => m.round + m.open);
  const m2 = (await synthClip('WATER', sp, 5)).mouth.map((m) => m.round + m.open);
  assert.ok(m1.some((v, i) => Math.abs(v - m2[i]) > 0.2));
  const crop = lrwMouthCrop(quiet, 96);
  assert.equal(crop.height, 96);
});
