// Hostile corpora and output directories for `eflip prepare` and the data it feeds (train, eval,
// bench data, the mp4 dataset): FIFOs and devices where a transcript or landmarks file should
// be, oversized landmarks, unreadable and clip-less word directories. Each gets a one-line
// error or a per-file report naming the file and the reason, in bounded time and memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { synthCorpus } from '../src/data/synth/index.js';
import { indexLrw, LrwError } from '../src/data/lrw.js';
import { prepare } from '../src/data/prepare.js';
import { DatasetError, openDataset } from '../src/data/dataset.js';
import { VideoError, tooLargeError } from '../src/data/video.js';
import { decodeVideos } from '../src/data/video_batch.js';
import { runEflip, assertBounded, assertRefused, tempDir } from './hostile_helpers.js';

const work = tempDir('eflip-hostile-prepare-');
const env = { EFLIP_CACHE_DIR: join(work, 'user-cache') };
const eflip = (args: string[], timeoutMs = 60_000, extraEnv: Record<string, string> = {}) =>
  runEflip(args, { cwd: work, timeoutMs, env: { ...env, ...extraEnv } });
const IS_ROOT = process.getuid?.() === 0;

// 2 words × (train 3, val 1, test 1) real mp4 clips with transcripts and ground-truth landmarks
const base = join(work, 'base');
const ready = synthCorpus({
  out: base,
  words: ['ABOUT', 'ABSOLUTELY'],
  train: 3,
  val: 1,
  test: 1,
  seed: 3,
  jobs: 2,
  landmarks: true,
});
let copies = 0;
/** a fresh copy of the corpus to damage */
async function corpus(name: string): Promise<string> {
  await ready;
  const d = join(work, `${name}-${++copies}`);
  cpSync(base, d, { recursive: true });
  return d;
}
const clip = (root: string, word: string, split: string, n: number, ext: string) =>
  join(root, word, split, `${word}_${String(n).padStart(5, '0')}${ext}`);
const fifo = (p: string) => {
  rmSync(p, { force: true });
  assert.equal(spawnSync('mkfifo', [p]).status, 0, `mkfifo ${p}`);
};
interface Summary {
  prepared: number;
  skipped: { path: string; kind: string; reason: string }[];
  durationProblemList: { path: string; reason: string; kind: string }[];
}
const summaryOf = (out: string) =>
  JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;

test('a FIFO transcript, and a FIFO, /dev/zero link or 3 GiB file as landmarks: prepare reports each, naming the file and why, and finishes (was: hung forever; /dev/zero read to 670 MB and called missing)', async () => {
  const root = await corpus('fifo');
  fifo(clip(root, 'ABOUT', 'train', 2, '.txt'));
  const big = clip(root, 'ABOUT', 'train', 1, '.landmarks.json');
  truncateSync(big, 3 * 2 ** 30); // sparse: 3 GiB that take no disk
  const zero = clip(root, 'ABOUT', 'train', 2, '.landmarks.json');
  rmSync(zero);
  symlinkSync('/dev/zero', zero);
  const pipe = clip(root, 'ABOUT', 'train', 3, '.landmarks.json');
  fifo(pipe);
  const out = join(work, 'fifo-out');
  const r = await eflip(
    ['prepare', '--lrw', root, '--out', out, '--crop', 'landmarks', '--jobs', '1', '--quiet'],
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  assertBounded(r, { maxMs: 40_000, maxMiB: 400, label: 'prepare over FIFOs and /dev/zero' });
  const s = summaryOf(out);
  assert.equal(s.prepared, 7);
  const why = new Map(s.skipped.map((k) => [k.path, k.reason]));
  assert.match(
    why.get(clip(root, 'ABOUT', 'train', 1, '.mp4'))!,
    /landmarks file .*ABOUT_00001\.landmarks\.json: is 3072\.0 MiB, over the 1\.\d MiB limit for the landmarks of 29 frames/,
  );
  assert.match(
    why.get(clip(root, 'ABOUT', 'train', 2, '.mp4'))!,
    /landmarks file .*ABOUT_00002\.landmarks\.json: is a character device, not a regular file/,
  );
  assert.match(
    why.get(clip(root, 'ABOUT', 'train', 3, '.mp4'))!,
    /landmarks file .*ABOUT_00003\.landmarks\.json: is a FIFO \(named pipe\), not a regular file/,
  );
  assert.deepEqual(
    s.durationProblemList.map((p) => [p.path, p.reason]),
    [
      [
        clip(root, 'ABOUT', 'train', 2, '.txt'),
        '.txt is a FIFO (named pipe), not a regular file (clip kept without duration)',
      ],
    ],
  );
  // the index every reader shares (train, eval, bench data, the mp4 dataset) says the same
  const idx = await indexLrw(root);
  assert.equal(idx.clips.length, 10);
  assert.match(idx.problems[0].reason, /FIFO/);
});

test('word directories: an empty word and a stray notes/ are no class (reported as skipped); an unreadable word or split directory is an error naming it (was: a class with no data, clips silently missing)', async () => {
  const root = await corpus('dirs');
  mkdirSync(join(root, 'ZEBRA', 'train'), { recursive: true });
  mkdirSync(join(root, 'notes'));
  writeFileSync(join(root, 'notes', 'todo.txt'), 'read the paper\n');
  const idx = await indexLrw(root);
  assert.deepEqual(idx.words, ['ABOUT', 'ABSOLUTELY']);
  assert.deepEqual(
    idx.problems.map((p) => [p.path, p.kind, p.reason]),
    [
      [
        join(root, 'ZEBRA'),
        'skipped',
        'word directory skipped: no .mp4 clip in its train/, val/ or test/',
      ],
      [
        join(root, 'notes'),
        'skipped',
        'word directory skipped: no .mp4 clip in its train/, val/ or test/',
      ],
    ],
  );
  // asked for by name (a word list, a checkpoint's labels), a clip-less word is refused
  await assert.rejects(
    indexLrw(root, { words: ['ABOUT', 'ZEBRA'] }),
    (e: Error) => e instanceof LrwError && /words with no clips under .*: ZEBRA$/.test(e.message),
  );
  const out = join(work, 'dirs-out');
  await prepare({ lrw: root, out, jobs: 1 });
  assert.equal(readFileSync(join(out, 'labels.txt'), 'utf8'), 'ABOUT\nABSOLUTELY\n');

  // unreadable directories (as root: read as nobody, whom permissions bind)
  chmodSync(work, 0o755);
  chmodSync(root, 0o755);
  const indexAs = (dir: string): string => {
    const script = `import { indexLrw } from ${JSON.stringify(new URL('../src/data/lrw.js', import.meta.url).href)};
try { const i = await indexLrw(${JSON.stringify(root)}); console.log('ok ' + i.clips.length); }
catch (e) { console.log(e.name + ': ' + e.message); }`;
    chmodSync(dir, 0o000);
    try {
      const cmd = IS_ROOT
        ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]
        : [process.execPath];
      const r = spawnSync(cmd[0], [...cmd.slice(1), '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      return r.stdout.trim() || r.stderr;
    } finally {
      chmodSync(dir, 0o755);
    }
  };
  assert.equal(
    indexAs(join(root, 'ABOUT', 'train')),
    `LrwError: cannot read directory ${join(root, 'ABOUT', 'train')}: permission denied`,
  );
  assert.equal(
    indexAs(join(root, 'ABOUT')),
    `LrwError: cannot read directory ${join(root, 'ABOUT')}: permission denied`,
  );
});

test('decoded frames over 256 MiB: prepare skips the clip as too-large naming it, as train and eval do; a batch decode shares one budget (was: decoded whole, 1.48 GB RSS, stored as a 10000-frame record)', async () => {
  const root = await corpus('big');
  const big = clip(root, 'ABOUT', 'train', 9, '.mp4');
  // 140 flat 1920×1080 frames: a small file, 290 MB of grey frames
  const mk = spawnSync('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'color=c=gray:s=1920x1080:r=25:d=5.6'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', big],
  ]);
  assert.equal(mk.status, 0, String(mk.stderr));
  const out = join(work, 'big-out');
  const r = await eflip(
    ['prepare', '--lrw', root, '--out', out, '--crop', 'center', '--size', '32', '--jobs', '1'],
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  assertBounded(r, { maxMs: 50_000, maxMiB: 900, label: 'prepare with a 290 MB clip' });
  const s = summaryOf(out);
  assert.equal(s.prepared, 10);
  assert.deepEqual(
    s.skipped.map((k) => [k.path, k.kind]),
    [[big, 'too-large']],
  );
  assert.match(r.stdout, /too-large: .*ABOUT_00009\.mp4: decoded frames exceed 256 MiB in memory/);
  // every whole-clip decode of many files (prepare, the mp4 dataset's readMany, bench data)
  // goes through decodeVideos: one budget for the whole ffmpeg process, then file by file
  const smalls = [1, 2, 3].map((n) => clip(root, 'ABOUT', 'train', n, '.mp4')); // 1.9 MB each
  const fit = await decodeVideos(smalls, { gray: true, fps: 25, maxBytes: 4 * 2 ** 20 });
  assert.deepEqual(
    fit.map((v) => (v instanceof VideoError ? v.message : v.frames)),
    [29, 29, 29],
  );
  const over = await decodeVideos(smalls.slice(0, 2), { gray: true, fps: 25, maxBytes: 2 ** 20 });
  assert.deepEqual(
    over.map((v) => (v instanceof VideoError ? v.message : v.frames)),
    smalls.slice(0, 2).map((f) => tooLargeError(f, 2 ** 20).message),
  );
});

test('a decoder killed by a signal (the OOM killer) fails its shard naming the signal; a rerun decodes the clip (was: recorded as corrupt in a finished shard, never retried)', async () => {
  const root = await corpus('killed');
  const killer = join(work, 'ffmpeg-killed.sh');
  writeFileSync(
    killer,
    '#!/bin/sh\ncase "$*" in *ABOUT_00002.mp4*) kill -KILL $$;; esac\nexec ffmpeg "$@"\n',
  );
  chmodSync(killer, 0o755);
  const out = join(work, 'killed-out');
  const args = ['prepare', '--lrw', root, '--out', out, '--jobs', '1', '--quiet'];
  const r = await eflip(args, 60_000, { EFLIP_FFMPEG: killer });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /train\/shard-00000\.bin: .*ABOUT_00002\.mp4: the decoder \(ffmpeg\) was killed by SIGKILL/,
  );
  assert.ok(!existsSync(join(out, 'train', 'shard-00000.bin')), 'the shard is not complete');
  const again = await eflip(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /10\/10 clips in 3 shards \(1 written now, 2 already done\)/);
  assert.deepEqual(summaryOf(out).skipped, []);
});

test('an interrupted preparation is refused by the loader (train, eval) naming the missing shards and the prepare that finishes it, which does (was: trained on 2 of 6 clips, no warning)', async () => {
  const root = await corpus('unfinished');
  const out = join(work, 'unfinished-out');
  await prepare({ lrw: root, out, jobs: 1, shardSize: 1, splits: ['train'] });
  // what kill -9 after 2 of 6 shards leaves: the plan, the first shards (renamed into place
  // whole), a temp and the lock of the dead run
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  for (const n of [2, 3, 4, 5]) rmSync(join(out, 'train', `shard-0000${n}.bin`));
  writeFileSync(join(out, 'train', `shard-00002.bin.tmp-${dead}-x1`), 'half a shard');
  writeFileSync(
    join(out, '.eflip-prepare.lock'),
    JSON.stringify({ pid: dead, host: hostname(), started: 'then' }),
  );
  let finish = '';
  await assert.rejects(openDataset({ kind: 'shards', dir: out, split: 'train' }), (e: Error) => {
    assert.ok(e instanceof DatasetError, String(e));
    assert.match(
      e.message,
      /is an unfinished preparation \(eflip prepare was interrupted or failed\): split 'train' has 2 of 6 shards, missing train\/shard-00002\.bin, train\/shard-00003\.bin, train\/shard-00004\.bin \(\+1 more\); finish it by running the same prepare again: eflip prepare /,
    );
    finish = e.message.split('again: ')[1];
    return true;
  });
  const r = await eflip([
    'train',
    '--config',
    new URL('../../configs/synth.yaml', import.meta.url).pathname,
    'data.root=null',
    `data.shards=${out}`,
    `run_dir=${join(work, 'run-unfinished')}`,
    'train.max_steps=1',
  ]);
  assertRefused(r, /unfinished preparation .* 2 of 6 shards/, { label: 'train on it' });
  // the command it names finishes it (the dead run's lock and temp are cleared)
  assert.equal(
    finish,
    `eflip prepare --lrw ${root} --out ${out} --words ABOUT,ABSOLUTELY --shard-size 1 --splits train`,
  );
  const again = await eflip(finish.split(' ').slice(1));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /6\/6 clips in 6 shards \(4 written now, 2 already done\)/);
  assert.deepEqual(
    readdirSync(join(out, 'train')).sort(),
    [0, 1, 2, 3, 4, 5].map((n) => `shard-0000${n}.bin`),
  );
  assert.ok(!existsSync(join(out, '.eflip-prepare.lock')), 'lock released');
  const ds = await openDataset({ kind: 'shards', dir: out, split: 'train' });
  assert.equal(ds.items.length, 6);
  ds.close();
});

test("prepare replaces symlinks planted in --out instead of writing through them, and holds --out: a second prepare is refused naming the first (was: victim file overwritten; concurrent runs removed each other's live shard temps)", async () => {
  const root = await corpus('lock');
  const out = join(work, 'lock-out');
  await prepare({ lrw: root, out, jobs: 1, splits: ['val'] });
  const victim = join(work, 'victim.txt');
  writeFileSync(victim, 'not yours\n');
  symlinkSync(victim, join(out, 'prepare.json.tmp')); // the temp name it used to write through
  const copy = join(work, 'manifest-copy.json');
  cpSync(join(out, 'prepare.json'), copy);
  const copyText = readFileSync(copy, 'utf8');
  rmSync(join(out, 'prepare.json'));
  symlinkSync(copy, join(out, 'prepare.json'));
  rmSync(join(out, 'labels.txt'));
  symlinkSync(victim, join(out, 'labels.txt'));
  await prepare({ lrw: root, out, jobs: 1, splits: ['val', 'test'] });
  assert.equal(readFileSync(victim, 'utf8'), 'not yours\n');
  assert.equal(readFileSync(copy, 'utf8'), copyText);
  assert.ok(lstatSync(join(out, 'prepare.json')).isFile());
  assert.ok(lstatSync(join(out, 'labels.txt')).isFile());
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(out, 'prepare.json'), 'utf8')).plan), [
    'val',
    'test',
  ]);

  // a prepare that runs (ffmpeg slowed down) holds --out; a second one is refused at once
  const slow = join(work, 'ffmpeg-slow.sh');
  writeFileSync(slow, '#!/bin/sh\nsleep 3\nexec ffmpeg "$@"\n');
  chmodSync(slow, 0o755);
  const out2 = join(work, 'lock-out2');
  const first = eflip(
    ['prepare', '--lrw', root, '--out', out2, '--splits', 'val', '--jobs', '1', '--quiet'],
    60_000,
    {
      EFLIP_FFMPEG: slow,
    },
  );
  const lock = join(out2, '.eflip-prepare.lock');
  for (let t = 0; !existsSync(lock) && t < 300; t++) await new Promise((r) => setTimeout(r, 50));
  const holder = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number };
  await assert.rejects(
    prepare({ lrw: root, out: out2, jobs: 1, splits: ['val'] }),
    new RegExp(
      `^Error: --out ${out2} is in use by eflip prepare \\(pid ${holder.pid}, since [^)]+\\); wait for it to end, or give another --out$`,
    ),
  );
  const r = await first;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2\/2 clips in 1 shards \(1 written now, 0 already done\)/);
  assert.ok(!existsSync(lock), 'released');
});
