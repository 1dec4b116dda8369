// Issue #16, data messages: a clip of another frame size, bad landmark files, a 50 fps clip,
// entries of an LRW tree that are not clips, a file name with a newline, synth into a directory
// it did not write, and bench data on unreadable clips or stopped by a signal — through the real
// CLI on a real synth corpus. Each bad file is one line naming it and why, never the end of a
// run; what train and eval decode is what prepare and predict decode (25 frames/s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  runEflip,
  assertRefused,
  assertBounded,
  snapshot,
  assertUnchanged,
  tempDir,
  EFLIP_BIN,
} from './hostile_helpers.js';
import { writeTestVideo } from './data_helpers.js';
import { defaultConfig } from '../src/train/config.js';
import { loadLrwSplits } from '../src/train/data_source.js';
import { printable } from '../src/io/printable.js';
import { tinyOverrides } from './train_helpers.js';

const work = tempDir('eflip-data-messages-');
const env = { EFLIP_CLIP_CACHE: join(work, 'clip-cache') };
const synthYaml = new URL('../../configs/synth.yaml', import.meta.url).pathname;
const demoModel = new URL('../../assets/demo/model.safetensors', import.meta.url).pathname;
const corpus = join(work, 'corpus');
/** train_helpers' tiny run, one step of a 4-clip batch */
const tiny = (root: string, runDir: string) => [
  ...tinyOverrides(root, runDir),
  'train.max_steps=1',
  'train.epochs=1',
  'train.batch_size=4',
];
const eflip = (args: string[], timeoutMs = 40_000, extraEnv: Record<string, string> = {}) =>
  runEflip(args, { cwd: work, timeoutMs, env: { ...env, ...extraEnv } });
const synthArgs = ['--words', '2', '--train', '2', '--val', '1', '--test', '1', '--seed', '5'];

// 2 words × (train 2, val 1, test 1) with ground-truth landmarks
const ready = (async () => {
  const s = await eflip(
    ['synth', '--out', corpus, ...synthArgs, '--jobs', '2', '--quiet', '--landmarks'],
    60_000,
  );
  assert.equal(s.code, 0, s.stderr);
})();
const wordsOf = (root: string) =>
  readdirSync(root)
    .filter((n) => !n.includes('.'))
    .sort();
/** a copy of the corpus to plant bad files in */
function corpusCopy(name: string): { root: string; w0: string; w1: string } {
  const root = join(work, name);
  cpSync(corpus, root, { recursive: true });
  const [w0, w1] = wordsOf(root);
  return { root, w0, w1 };
}
/** the LRW mouth window needs 256×256: a 320×240 clip is another frame size */
const wrongSize = (file: string) => writeTestVideo(file, { frames: 29, height: 240, width: 320 });
const NEWLINE_NAME = 'bad\neflip prepare: all good.mp4';
const ESCAPED_NAME = 'bad\\neflip prepare: all good.mp4';

let checkpoint = '';
test('a clip of another frame size is skipped and named by train on data.root (was: the run failed without naming it)', async () => {
  await ready;
  const { root, w0 } = corpusCopy('root-size');
  await wrongSize(join(root, w0, 'train', `${w0}_00009.mp4`));
  const before = snapshot(root);
  const runDir = join(work, 'run-size');
  const r = await eflip(['train', '--config', synthYaml, ...tiny(root, runDir)], 90_000);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  assertBounded(r, { label: 'train with a 320×240 clip', maxMs: 60_000 });
  assert.match(
    r.stdout + r.stderr,
    new RegExp(
      `warning: skipped 1 clip\\(s\\) under .*: .*${w0}_00009\\.mp4: the LRW mouth window needs 256×256 frames, got 240×320`,
    ),
  );
  assert.match(r.stdout, /clips: train 4, val 2/);
  assertUnchanged(root, before, { label: 'train root' });
  checkpoint = join(runDir, 'checkpoints', 'last.ckpt');
});

test('eval --json names every skipped clip and why, warnings still on stderr (was: rc 0, nothing said, samples 10 of 11)', async () => {
  await ready;
  assert.ok(checkpoint, 'needs the previous test');
  const { root, w0, w1 } = corpusCopy('root-eval');
  await wrongSize(join(root, w0, 'test', `${w0}_00009.mp4`));
  writeFileSync(join(root, w1, 'test', `${w1}_00009.mp4`), 'not a video');
  const r = await eflip(['eval', '--checkpoint', checkpoint, '--data', root, '--json'], 60_000);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.samples, 2);
  assert.deepEqual(
    j.skippedClips.map((s: { path: string }) => s.path),
    [join(root, w0, 'test', `${w0}_00009.mp4`), join(root, w1, 'test', `${w1}_00009.mp4`)],
  );
  assert.match(
    j.skippedClips[0].reason,
    /^the LRW mouth window needs 256×256 frames, got 240×320$/,
  );
  assert.match(j.skippedClips[1].reason, /not a video/);
  assert.deepEqual(j.skippedEntries, []);
  assert.match(r.stderr, /^warning: skipped 2 clip\(s\) under .*_00009\.mp4: .* \(\+1 more\)$/m);
  assert.doesNotMatch(r.stderr, /clips\/s|^checkpoint /m, 'no progress under --json');
});

test('train and eval on data.root decode at 25 frames/s like prepare and predict: a 50 fps clip of 58 frames is 29 frames (was: 58 cut to the middle 29)', async () => {
  const root = join(work, 'root-50fps');
  mkdirSync(join(root, 'ABOUT', 'train'), { recursive: true });
  await writeTestVideo(join(root, 'ABOUT', 'train', 'ABOUT_00001.mp4'), {
    frames: 58,
    height: 256,
    width: 256,
    fps: 50,
  });
  const cfg = defaultConfig();
  cfg.data.root = root;
  cfg.data.cache = false;
  cfg.data.words = null;
  const d = await loadLrwSplits(cfg, ['train'], null);
  assert.equal(d.clips.train.length, 1);
  assert.equal(d.clips.train[0].frames, 29);
});

test('prepare names every skipped clip and every skipped entry of the tree, in text and JSON; a newline in a name is escaped; bad landmarks are kind landmarks and say what is wrong', async () => {
  await ready;
  const { root, w0, w1 } = corpusCopy('root-prepare');
  const train0 = join(root, w0, 'train');
  await wrongSize(join(train0, `${w0}_00009.mp4`));
  writeFileSync(join(train0, NEWLINE_NAME), 'junk');
  // entries that are not clips: a word dir with a space, a dir named .mp4, a dangling link, a loop
  mkdirSync(join(root, 'TWO WORDS', 'train'), { recursive: true });
  mkdirSync(join(root, w1, 'val', 'dir.mp4'));
  symlinkSync(join(work, 'nowhere'), join(root, w1, 'val', 'dangling.mp4'));
  symlinkSync('loop.mp4', join(root, w1, 'test', 'loop.mp4'));
  const before = snapshot(root);
  const out = join(work, 'prep-mouth');
  const r = await eflip(['prepare', '--lrw', root, '--out', out, '--jobs', '1', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assertBounded(r, { label: 'prepare with odd entries' });
  const lines = r.stdout.split('\n');
  assert.ok(
    lines.includes(
      `  crop: ${join(train0, `${w0}_00009.mp4`)}: the LRW mouth window needs 256×256 frames, got 240×320`,
    ),
    r.stdout,
  );
  assert.ok(
    lines.some((l) => l.startsWith(`  corrupt: ${join(train0, ESCAPED_NAME)}: `)),
    r.stdout,
  );
  assert.ok(!lines.some((l) => l.startsWith('eflip prepare: all good')), 'a name printed raw');
  assert.ok(lines.includes('skipped 4 entries under --lrw that are not clips:'), r.stdout);
  for (const p of [
    join(root, 'TWO WORDS'),
    join(root, w1, 'val', 'dir.mp4'),
    join(root, w1, 'val', 'dangling.mp4'),
    join(root, w1, 'test', 'loop.mp4'),
  ])
    assert.ok(
      lines.some((l) => l.startsWith(`  ${p}: `)),
      `${p} not reported:\n${r.stdout}`,
    );
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.indexSkipped.length, 4);
  // the clips planted without a .txt, and nothing else: the skipped entries have a key of their own
  assert.deepEqual(
    summary.durationProblemList.map((p: { path: string }) => p.path).sort(),
    [join(train0, `${w0}_00009.txt`), join(train0, NEWLINE_NAME.replace('.mp4', '.txt'))].sort(),
  );
  assertUnchanged(root, before, { label: 'prepared root' });

  // --crop landmarks --json: landmark files that are not JSON, null, too short, with a null point
  const lm = (w: string, split: string) => join(root, w, split, `${w}_00001.landmarks.json`);
  const points = (file: string) => JSON.parse(readFileSync(file, 'utf8')).landmarks;
  writeFileSync(lm(w0, 'train'), '{x');
  writeFileSync(lm(w0, 'val'), 'null');
  writeFileSync(lm(w0, 'test'), JSON.stringify({ landmarks: points(lm(w0, 'test')).slice(0, 5) }));
  const nullPoint = points(lm(w1, 'train'));
  nullPoint[3][7] = null;
  writeFileSync(lm(w1, 'train'), JSON.stringify(nullPoint));
  const j = await eflip([
    'prepare',
    '--lrw',
    root,
    '--out',
    join(work, 'prep-landmarks'),
    '--crop',
    'landmarks',
    '--jobs',
    '1',
    '--quiet',
    '--json',
  ]);
  assert.equal(j.code, 0, j.stderr);
  const s = JSON.parse(j.stdout);
  const why = (w: string, split: string) =>
    s.skipped.find((k: { path: string }) => k.path === join(root, w, split, `${w}_00001.mp4`));
  const clip = (w: string, split: string) => `${join(root, w, split, `${w}_00001.mp4`)}: `;
  assert.equal(why(w0, 'train').kind, 'landmarks');
  assert.ok(
    why(w0, 'train').reason.startsWith(
      `${clip(w0, 'train')}landmarks file ${lm(w0, 'train')}: not JSON (`,
    ),
  );
  assert.equal(
    why(w0, 'val').reason,
    `${clip(w0, 'val')}landmarks file ${lm(w0, 'val')}: no T×68×[x, y] points (null)`,
  );
  assert.equal(
    why(w0, 'test').reason,
    `${clip(w0, 'test')}landmarks cover 5 frames, the clip has 29 (need T×68×2)`,
  );
  assert.equal(
    why(w1, 'train').reason,
    `${clip(w1, 'train')}landmarks frame 3 point 7 is null, not [x, y] numbers`,
  );
  for (const k of s.skipped) assert.ok(k.reason.startsWith(`${printable(k.path)}: `), k.reason);
  assert.equal(s.indexSkipped.length, 4);
  assert.ok(s.indexSkipped.every((k: { reason: string }) => k.reason));
});

test('predict names the video that failed in text mode, its name escaped (was: "frames are 16×16, …" and "1 of 2 videos failed", no name)', async () => {
  await ready;
  const small = join(work, 'tiny\nfake.mp4');
  await writeTestVideo(small, { frames: 25, height: 16, width: 16 });
  const [w0] = wordsOf(corpus);
  const good = join(corpus, w0, 'test', `${w0}_00001.mp4`);
  const r = await eflip(['predict', small, good, '--checkpoint', demoModel, '--threads', '1']);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.stderr.trim().split('\n'), [
    `eflip predict: ${join(work, 'tiny\\nfake.mp4')}: frames are 16×16, smaller than the model's 64×64 crop: give a mouth ROI of at least 64×64 (96×96 as \`eflip roi\` writes) or the whole video`,
    'eflip predict: 1 of 2 videos failed',
  ]);
  assert.match(r.stdout, new RegExp(`^${good}  \\(29 frames`, 'm'));
});

test('synth refuses a directory it did not write and another corpus, resumes its own (was: a user file replaced, seeds mixed)', async () => {
  await ready;
  const user = join(work, 'user-dir');
  mkdirSync(join(user, 'ABOUT', 'train'), { recursive: true });
  writeFileSync(join(user, 'ABOUT', 'train', 'ABOUT_00001.mp4'), 'my video');
  const base = ['synth', '--words', '2', '--train', '1', '--val', '0', '--test', '0', '--quiet'];
  assertRefused(
    await eflip([...base, '--out', user]),
    /eflip synth: --out .*user-dir is not empty and holds no eflip synth corpus \(no synth\.json\); use a new or empty directory/,
    { code: 1 },
  );
  assert.equal(readFileSync(join(user, 'ABOUT', 'train', 'ABOUT_00001.mp4'), 'utf8'), 'my video');
  const before = snapshot(corpus);
  const other = synthArgs.map((a) => (a === '5' ? '6' : a));
  assertRefused(
    await eflip(['synth', '--out', corpus, ...other, '--quiet']),
    /eflip synth: --out .*corpus holds another synth corpus \(seed 5 there, 6 asked\); use a new --out, or the same parameters to resume it/,
    { code: 1 },
  );
  assertUnchanged(corpus, before, { label: 'seed-5 corpus' });
  const same = await eflip(['synth', '--out', corpus, ...synthArgs, '--quiet', '--landmarks']);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /synth: 0 clips written, 8 already there/);
});

test('bench data --lrw skips an unreadable clip (was: rc 1 on the first); SIGTERM removes its temp directory (was: left behind)', async () => {
  await ready;
  const { root, w0, w1 } = corpusCopy('root-bench');
  rmSync(join(root, w1), { recursive: true }); // one word: 4 clips and the bad one
  writeFileSync(join(root, w0, 'train', `${w0}_00009.mp4`), 'not a video');
  const args = ['bench', 'data', '--jobs', '1', '--loader-clips', '1', '--json'];
  const r = await eflip([...args, '--lrw', root], 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`^warning: skipped 1 unreadable clip\\(s\\) under .*${w0}_00009\\.mp4: `, 'm'),
  );
  const j = JSON.parse(r.stdout);
  assert.equal(j.skippedClips.length, 1);
  assert.equal(j.prepare.clips, 4);

  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  const child = spawn(
    process.execPath,
    [EFLIP_BIN, 'bench', 'data', '--clips', '8', '--jobs', '1', '--json'],
    {
      env: { ...process.env, TMPDIR: tmp },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  const t0 = Date.now();
  while (
    !readdirSync(tmp).some((n) => n.startsWith('eflip-bench-data-')) &&
    Date.now() - t0 < 20_000
  )
    await new Promise((res) => setTimeout(res, 100));
  assert.ok(readdirSync(tmp).length, 'bench data made no temp directory');
  await new Promise((res) => setTimeout(res, 500)); // into the synthesis
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  await new Promise((res) => setTimeout(res, 300)); // its ffmpeg children see their pipes close
  assert.deepEqual(readdirSync(tmp), []);
  assert.ok(!existsSync(join(tmp, 'lrw')));
});
