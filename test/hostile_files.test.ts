// Issue #16, data loss: nothing eflip writes may destroy an input or an earlier output.
// Every case runs the real CLI and checks that no file of the user's changed:
// - an output path that is an input (same path, hard link, symlink) or another output is
//   refused with one line naming both flags (src/io/output_path.ts, used by every writer);
// - a resumed run writes where its checkpoint was found, never into the run recorded in the
//   checkpoint; a fresh run never replaces a run; read-only targets fail before training;
// - temp files of writers killed mid-write are removed; SIGTERM saves like Ctrl-C;
// - a full disk during a checkpoint/export write keeps the previous file (one-line error);
// - `eflip roi` writes nothing beside its input or into the current directory (landmark cache
//   in $EFLIP_CACHE_DIR/landmarks).
// Read-only mounts and a full disk are real: a private mount namespace (unshare -m) with a
// read-only bind mount or a small tmpfs when running as root; chmod otherwise.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
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
  worst,
  type CliRun,
} from './hostile_helpers.js';
import { tinyCorpus, tinyOverrides, configs } from './train_helpers.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { MetricsLog } from '../src/train/metrics_log.js';
import { writeFileAtomic } from '../src/io/atomic.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SYNTH = join(configs, 'synth.yaml');
const work = tempDir('eflip-hostile-files-');
// the per-user cache of every child (landmarks, decoded clips): never the real ~/.cache
process.env.EFLIP_CACHE_DIR = join(work, 'user-cache');

const IS_ROOT = process.getuid?.() === 0;
/** root: a private mount namespace is needed for read-only dirs and a small disk */
const CAN_MOUNT =
  IS_ROOT &&
  spawnSync('unshare', [
    '-m',
    'sh',
    '-c',
    `mount -t tmpfs -o size=64k tmpfs ${JSON.stringify(work)}`,
  ]).status === 0;
const NO_RO =
  IS_ROOT && !CAN_MOUNT ? 'root without mount namespaces: read-only dirs cannot be made' : false;
const NO_TMPFS = !CAN_MOUNT ? 'needs root and unshare -m for a small tmpfs' : false;

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run eflip with `ro` directories read-only and `tmpfs` directories on a small tmpfs (visible
 * only to this command); `prepare` (shell) runs before eflip and `after` after it, inside the same mounts.
 */
function runMounted(
  args: string[],
  m: {
    ro?: string[];
    tmpfs?: { dir: string; kib: number }[];
    cwd?: string;
    prepare?: string;
    after?: string;
    timeoutMs?: number;
    env?: Record<string, string>;
  },
): Promise<CliRun> {
  const setup: string[] = [];
  for (const t of m.tmpfs ?? []) setup.push(`mount -t tmpfs -o size=${t.kib}k tmpfs ${sh(t.dir)}`);
  if (IS_ROOT)
    for (const d of m.ro ?? [])
      setup.push(`mount --bind ${sh(d)} ${sh(d)}`, `mount -o remount,ro,bind ${sh(d)}`);
  else for (const d of m.ro ?? []) chmodSync(d, 0o555);
  if (m.prepare) setup.push(m.prepare);
  const script = `${setup.join(' && ') || 'true'} || exit 99; cd ${sh(m.cwd ?? work)} && "$@"; rc=$?; ${m.after ?? 'true'}; exit $rc`;
  const cmd = IS_ROOT
    ? ['unshare', '-m', 'sh', '-c', script, 'sh', process.execPath, EFLIP_BIN, ...args]
    : ['sh', '-c', script, 'sh', process.execPath, EFLIP_BIN, ...args];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...m.env },
    });
    let stdout = '',
      stderr = '',
      timedOut = false;
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, m.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!IS_ROOT) for (const d of m.ro ?? []) chmodSync(d, 0o755);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, peakMiB: NaN, timedOut });
    });
  });
}

const noTemps = (dir: string) =>
  readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.includes('.tmp-'));

// ---------------------------------------------------------------- fixtures

let video = '';
let faceVideo = '';
let corpus = '';
let runA = '';

function tinyTrain(runDir: string, extra: string[] = []): string[] {
  return ['train', '--config', SYNTH, ...tinyOverrides(corpus, runDir), ...extra];
}

before(async () => {
  mkdirSync(join(work, 'media'));
  video = join(work, 'media', 'clip.mp4');
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x64:rate=25',
    '-t',
    '0.4',
    '-pix_fmt',
    'yuv420p',
    video,
  ]);
  faceVideo = join(work, 'media', 'face.mp4');
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-loop',
    '1',
    '-i',
    join(ROOT, 'test/fixtures/roi/messi5.jpg'),
    '-frames:v',
    '6',
    '-r',
    '25',
    '-pix_fmt',
    'yuv420p',
    faceVideo,
  ]);
  corpus = tinyCorpus();
  // run A: 2 epochs of 4 steps stopped at step 5 (mid-epoch 2): top-k, best and last checkpoints, metrics, report
  runA = join(work, 'runs', 'A');
  const r = await runEflip(tinyTrain(runA, ['train.epochs=2', 'train.max_steps=5']), {
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 0, r.stderr + r.stdout);
});

// ---------------------------------------------------------------- output = input

test('roi: an output that is the input (same path, hard link, symlink) or another output is refused; nothing changes', async () => {
  const dir = join(work, 'roi-self');
  mkdirSync(dir);
  const self = join(dir, 'self.mp4');
  cpSync(video, self);
  linkSync(self, join(dir, 'hard.mp4'));
  symlinkSync(self, join(dir, 'link.mp4'));
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  cpSync(video, join(dir, 'a', 'x.mp4'));
  cpSync(video, join(dir, 'b', 'x.mp4'));
  const before = snapshot(dir);
  const cases: [string[], RegExp][] = [
    [
      ['roi', self, '--out', self],
      /--out .*self\.mp4 is the same file as VIDEO .*self\.mp4.*destroy the input/,
    ],
    [
      ['roi', 'self.mp4', '--landmarks', './self.mp4'],
      /--landmarks \.\/self\.mp4 is the same file as VIDEO self\.mp4/,
    ],
    [
      ['roi', 'self.mp4', '--annotate', 'hard.mp4'],
      /--annotate hard\.mp4 is the same file as VIDEO self\.mp4/,
    ],
    [
      ['roi', 'self.mp4', '--out', 'link.mp4'],
      /--out link\.mp4 is the same file as VIDEO self\.mp4/,
    ],
    [
      ['roi', 'self.mp4', '--out', 'o.mp4', '--annotate', 'sub/../o.mp4'],
      /--annotate sub\/\.\.\/o\.mp4 and --out o\.mp4 name the same file/,
    ],
    [
      ['roi', 'a/x.mp4', 'b/x.mp4', '--out-dir', 'rois'],
      /a\/x\.mp4 and b\/x\.mp4 would both write x\.roi\.mp4/,
    ],
    [
      ['roi', 'self.mp4', '--out-dir', 'self.mp4'],
      /--out-dir self\.mp4 is a file, not a directory/,
    ],
    [['roi', 'self.mp4', '--out', 'a'], /--out a is a directory/],
    [
      ['predict', 'self.mp4', '--checkpoint', 'hard.mp4', '--annotate', 'link.mp4'],
      /--annotate link\.mp4 is the same file as VIDEO self\.mp4/,
    ],
  ];
  for (const [args, msg] of cases) {
    const r = await runEflip(args, { cwd: dir });
    assertRefused(r, msg, { label: args.join(' '), maxMs: 10_000 });
    assertUnchanged(dir, before, { label: args.join(' ') });
  }
});

test('eval, import, export, init, montage, synth, prepare: an output on an input is refused; the checkpoint survives', async () => {
  const dir = join(work, 'cmd-self');
  mkdirSync(dir);
  const best = join(dir, 'best.ckpt');
  cpSync(join(runA, 'checkpoints', 'best.ckpt'), best);
  symlinkSync(best, join(dir, 'best.onnx'));
  writeFileSync(join(dir, 'labels.txt'), 'A\nB\n');
  const before = snapshot(dir);
  const cases: [string[], RegExp][] = [
    [
      ['eval', '--checkpoint', 'best.ckpt', '--data', corpus, '--markdown', 'best.ckpt'],
      /--markdown best\.ckpt is the same file as --checkpoint best\.ckpt/,
    ],
    [
      ['import', 'best.ckpt', '--out', 'best.ckpt'],
      /--out best\.ckpt is the same file as CHECKPOINT best\.ckpt/,
    ],
    [
      ['export', '--checkpoint', 'best.ckpt', '--out', 'best.onnx'],
      /--out best\.onnx is the same file as --checkpoint best\.ckpt/,
    ],
    [
      ['init', '--variant', 'T', '--classes', '2', '--labels', 'labels.txt', '--out', 'labels.txt'],
      /--out labels\.txt is the same file as --labels labels\.txt/,
    ],
    [['init', '--out', 'labels.txt/m.safetensors'], /labels\.txt is a file, not a directory/],
    [['montage', '--lrw', corpus, '--out', '.'], /--out \. is a directory/],
    [
      ['synth', '--out', 'best.ckpt', '--words', '2'],
      /--out best\.ckpt is a file, not a directory/,
    ],
    [['prepare', '--lrw', corpus, '--out', corpus], /--out .* is the same directory as --lrw/],
  ];
  for (const [args, msg] of cases) {
    const r = await runEflip(args, { cwd: dir });
    assertRefused(r, msg, { label: args.join(' '), maxMs: 15_000 });
    assertUnchanged(dir, before, { label: args.join(' ') });
  }
  assert.equal(
    readCheckpoint(best).state.step,
    readCheckpoint(join(runA, 'checkpoints', 'best.ckpt')).state.step,
    'the checkpoint still loads',
  );
  // an output in a directory that does not exist yet is created (atomically written)
  const r = await runEflip(
    [
      'eval',
      '--checkpoint',
      'best.ckpt',
      '--data',
      corpus,
      '--markdown',
      'new/sub/report.md',
      '--limit',
      '1',
    ],
    { cwd: dir, timeoutMs: 60_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(dir, 'new', 'sub', 'report.md'), 'utf8'), /top-1|Top-1|accuracy/i);
  assertUnchanged(dir, before, { allowNew: (f) => f === 'new/sub/report.md' });
  assert.deepEqual(noTemps(dir), []);
});

test('an output that is a FIFO, a device node or a symlink is refused and stays what it was; the writers replace a link, never what it points to', async () => {
  const dir = join(work, 'special-out');
  mkdirSync(dir);
  cpSync(join(ROOT, 'assets', 'demo', 'model.safetensors'), join(dir, 'm.safetensors'));
  // a FIFO and (where mknod is allowed: root) a private device node — never the system's
  // /dev/null — each as X.onnx, with X.safetensors and X.mp4 symlinks to it; and links to a
  // regular file of the user's
  execFileSync('mkfifo', [join(dir, 'fifo.onnx')]);
  const nodes = ['fifo'];
  if (spawnSync('mknod', [join(dir, 'null.onnx'), 'c', '1', '3']).status === 0) nodes.push('null');
  writeFileSync(join(dir, 'keep.txt'), 'mine');
  nodes.push('keep');
  for (const n of nodes)
    for (const ext of ['safetensors', 'mp4', ...(n === 'keep' ? ['onnx'] : [])])
      symlinkSync(n === 'keep' ? 'keep.txt' : `${n}.onnx`, join(dir, `${n}.${ext}`));
  const entries = readdirSync(dir).filter((f) => f !== 'm.safetensors');
  const kinds = () => entries.map((n) => `${n}:${lstatSync(join(dir, n)).mode}`);
  const was = kinds();
  for (const n of nodes) {
    for (const [args, flag, out] of [
      [['export', '--checkpoint', 'm.safetensors', '--out', `${n}.onnx`], '--out', `${n}.onnx`],
      [
        ['init', '--variant', 'T', '--classes', '2', '--out', `${n}.safetensors`],
        '--out',
        `${n}.safetensors`,
      ],
      [
        ['predict', video, '--checkpoint', 'm.safetensors', '--annotate', `${n}.mp4`],
        '--annotate',
        `${n}.mp4`,
      ],
      [['roi', faceVideo, '--out', `${n}.mp4`], '--out', `${n}.mp4`],
    ] as [string[], string, string][]) {
      const r = await runEflip(args, { cwd: dir });
      const o = `${flag} ${out.replace('.', '\\.')}`;
      assertRefused(
        r,
        new RegExp(
          `${o} is (a FIFO \\(named pipe\\), not a regular file; choose another ${flag}|a character device, not a regular file; choose another ${flag}|a symlink \\(to .*\\); give the path of the file itself, or remove the link)`,
        ),
        { label: args.join(' '), maxMs: 15_000 },
      );
    }
  }
  assert.deepEqual(kinds(), was, 'the FIFO, the device node and the links are what they were');
  assert.equal(readFileSync(join(dir, 'keep.txt'), 'utf8'), 'mine');
  // a writer without the guard in front of it (files inside an output directory): a FIFO is
  // refused (WriteError, nothing written); a symlink is replaced, what it names is left alone
  assert.throws(
    () => writeFileAtomic(join(dir, 'fifo.onnx'), 'x'),
    /cannot write .*fifo\.onnx: is a FIFO \(named pipe\), not a regular file/,
  );
  assert.ok(lstatSync(join(dir, 'fifo.onnx')).isFIFO());
  writeFileAtomic(join(dir, 'keep.mp4'), 'new');
  assert.ok(lstatSync(join(dir, 'keep.mp4')).isFile(), 'the link was replaced by the file');
  assert.equal(readFileSync(join(dir, 'keep.txt'), 'utf8'), 'mine', 'the linked file is untouched');
  assert.deepEqual(noTemps(dir), []);
});

test('an output in a read-only directory is refused before any work', { skip: NO_RO }, async () => {
  const dir = join(work, 'ro-out');
  mkdirSync(join(dir, 'locked'), { recursive: true });
  const before = snapshot(dir);
  const r = await runMounted(['roi', video, '--out', join(dir, 'locked', 'x.roi.mp4')], {
    ro: [join(dir, 'locked')],
  });
  assertRefused(
    r,
    /--out .*locked\/x\.roi\.mp4: directory .*locked (is on a read-only file system|is not writable)/,
    { maxMs: 10_000 },
  );
  assertUnchanged(dir, before);
});

// ---------------------------------------------------------------- run directories

test('resuming a copy of a run writes into the copy; the original run is untouched; stale temps of dead writers go', async () => {
  const runs = join(work, 'runs');
  const B = join(runs, 'B');
  cpSync(runA, B, { recursive: true });
  const beforeA = snapshot(runA);
  // a writer killed mid-write (pid gone) left a temp file; one of a live writer stays
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(B, 'checkpoints', `.last.ckpt.tmp-${dead}-kx1`), 'half a checkpoint');
  writeFileSync(join(B, 'checkpoints', `.other.ckpt.tmp-${process.pid}-kx2`), 'in flight');
  const r = await runEflip(['train', `checkpoint=${B}`, 'train.max_steps=null'], {
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /run directory: .*runs\/B\n/);
  assert.match(r.stdout, /removed 1 temp file\(s\) of interrupted writes/);
  assertUnchanged(runA, beforeA, { label: 'original run A' });
  assert.equal(
    readCheckpoint(join(B, 'checkpoints', 'last.ckpt')).state.step,
    8,
    'the copy continued to the end',
  );
  assert.equal(readCheckpoint(join(runA, 'checkpoints', 'last.ckpt')).state.step, 5);
  const names = readdirSync(join(B, 'checkpoints'));
  assert.ok(!names.some((f) => f.includes(`tmp-${dead}-`)), 'stale temp removed');
  assert.ok(names.includes(`.other.ckpt.tmp-${process.pid}-kx2`), "a live writer's temp is kept");
  // run_dir= resumes into a new directory, which gets the run's history
  const C = join(runs, 'C');
  const r2 = await runEflip(
    [
      'train',
      `checkpoint=${join(runA, 'checkpoints', 'last.ckpt')}`,
      `run_dir=${C}`,
      'train.max_steps=6',
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(r2.code, 0, r2.stderr + r2.stdout);
  assertUnchanged(runA, beforeA, { label: 'original run A after run_dir=' });
  assert.deepEqual(
    MetricsLog.read(join(C, 'metrics.jsonl'))
      .filter((x) => x.kind === 'step')
      .map((x) => x.step),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(readCheckpoint(join(C, 'checkpoints', 'last.ckpt')).state.step, 6);
  assert.ok(
    readdirSync(join(C, 'checkpoints')).some((f) => f.startsWith('epoch=')),
    'top-k checkpoint carried over',
  );
});

test('a fresh run into a directory holding a run is refused; so is run_dir on an input, inside an input or on a file', async () => {
  const beforeA = snapshot(runA);
  let r = await runEflip(tinyTrain(runA), { timeoutMs: 30_000 });
  assertRefused(
    r,
    /run_dir .*runs\/A already holds a run \(metrics\.jsonl, .*\); resume it with checkpoint=.*runs\/A, or give a new run_dir=/,
    { maxMs: 15_000 },
  );
  assertUnchanged(runA, beforeA);
  r = await runEflip(tinyTrain(corpus), { timeoutMs: 30_000 });
  assertRefused(r, /run_dir .* is the same directory as data\.root/, { maxMs: 15_000 });
  // a run_dir inside the data root (an existing split directory, or a new one)
  const beforeCorpus = snapshot(corpus);
  const split = join(
    corpus,
    readdirSync(corpus).find((w) => !w.startsWith('.'))!,
    'train',
  );
  for (const inside of [split, join(corpus, 'runs', 'new')]) {
    r = await runEflip(tinyTrain(inside), { timeoutMs: 30_000 });
    assertRefused(
      r,
      /run_dir .* is inside the directory data\.root .*: writing into it would mix the outputs into the input; choose another run_dir/,
      {
        maxMs: 15_000,
      },
    );
  }
  assertUnchanged(corpus, beforeCorpus);
  assert.ok(!existsSync(join(corpus, 'runs')), 'no directory made inside the data root');
  r = await runEflip(tinyTrain(join(runA, 'metrics.jsonl')), { timeoutMs: 30_000 });
  assertRefused(r, /run_dir .*metrics\.jsonl is a file, not a directory/, { maxMs: 15_000 });
  assertUnchanged(runA, beforeA);
});

test(
  'resuming a read-only copy fails at start naming the dir; an unwritable cwd too',
  { skip: NO_RO },
  async () => {
    const ro = join(work, 'runs', 'RO');
    cpSync(runA, ro, { recursive: true });
    const before = snapshot(ro);
    let r = await runMounted(['train', `checkpoint=${ro}`, 'train.max_steps=null'], { ro: [ro] });
    assertRefused(
      r,
      /run_dir .*runs\/RO: directory .*runs\/RO (is on a read-only file system|is not writable); choose another run_dir/,
      { maxMs: 15_000 },
    );
    assert.doesNotMatch(r.stdout, /epoch 2\//, 'no training step ran');
    assertUnchanged(ro, before);
    // no run_dir: the default runs/<config>-<timestamp> under an unwritable cwd
    const cwd = join(work, 'ro-cwd');
    mkdirSync(cwd);
    r = await runMounted(['train', '--config', SYNTH, `data.root=${corpus}`], { ro: [cwd], cwd });
    assertRefused(
      r,
      /run_dir .*ro-cwd\/runs\/synth-\d{8}-\d{6}: directory .*ro-cwd (is on a read-only file system|is not writable)/,
      { maxMs: 15_000 },
    );
    assert.deepEqual(readdirSync(cwd), []);
  },
);

// ---------------------------------------------------------------- signals, full disk

test('SIGTERM during training saves a resumable checkpoint like Ctrl-C', async () => {
  const run = join(work, 'runs', 'term');
  const child = spawn(process.execPath, [EFLIP_BIN, ...tinyTrain(run, ['train.epochs=50'])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '',
    err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const t0 = Date.now();
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`no progress: ${out.slice(-500)} ${err}`)),
      90_000,
    );
    child.stdout.on('data', (d) => {
      out += d;
      if (/epoch 2\/50 1\//.test(out)) {
        clearTimeout(timer);
        res();
      }
    });
  });
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.match(err, /resume with: eflip train checkpoint=.*last\.ckpt/);
  const ck = readCheckpoint(join(run, 'checkpoints', 'last.ckpt'));
  assert.equal(ck.state.reason, 'interrupted');
  assert.ok(ck.state.step >= 5, `step ${ck.state.step}`);
  assert.ok(Date.now() - t0 < 90_000);
});

test(
  'disk full while writing a checkpoint: one-line error, the previous checkpoint intact, no temp left',
  { skip: NO_TMPFS },
  async () => {
    // a tmpfs that holds two checkpoints (~0.9 MB each): epoch 1 writes top-k + last, epoch 2 runs out
    const size = readFileSync(join(runA, 'checkpoints', 'last.ckpt')).length;
    const disk = join(work, 'small-disk');
    const copy = join(work, 'small-disk-after');
    mkdirSync(disk);
    mkdirSync(copy);
    const r = await runMounted(tinyTrain(join(disk, 'run'), ['train.epochs=2']), {
      tmpfs: [{ dir: disk, kib: Math.ceil((2.5 * size) / 1024) }],
      after: `cp -a ${sh(disk)}/. ${sh(copy)}/`,
      timeoutMs: 120_000,
    });
    assertRefused(
      r,
      /cannot write .*small-disk\/run\/checkpoints\/.*\.ckpt: no space left on device \(the previous file, if any, is unchanged\)/,
      { maxMs: 90_000 },
    );
    const last = readCheckpoint(join(copy, 'run', 'checkpoints', 'last.ckpt'));
    assert.equal(last.state.step, 4, "epoch 1's last.ckpt survives");
    assert.deepEqual(noTemps(copy), []);
  },
);

test(
  'disk full while exporting over an older model: the older file stays',
  { skip: NO_TMPFS },
  async () => {
    const disk = join(work, 'small-disk2');
    const copy = join(work, 'small-disk2-after');
    mkdirSync(disk);
    mkdirSync(copy);
    const model = join(disk, 'model.onnx');
    // 250 KB of an older model on a 320 KB disk; the tiny model's ONNX (~220 KB) does not fit beside it
    const r = await runMounted(
      ['export', '--checkpoint', join(runA, 'checkpoints', 'best.ckpt'), '--out', model],
      {
        tmpfs: [{ dir: disk, kib: 320 }],
        prepare: `head -c 256000 /dev/urandom > ${sh(model)} && sha1sum < ${sh(model)} > ${sh(join(copy, 'before'))}`,
        after: `sha1sum < ${sh(model)} > ${sh(join(copy, 'after'))}; ls -A ${sh(disk)} > ${sh(join(copy, 'ls'))}`,
      },
    );
    assertRefused(
      r,
      /cannot write .*small-disk2\/model\.onnx: no space left on device \(the previous file, if any, is unchanged\)/,
      { maxMs: 30_000 },
    );
    assert.equal(
      readFileSync(join(copy, 'after'), 'utf8'),
      readFileSync(join(copy, 'before'), 'utf8'),
      'the older model is intact',
    );
    assert.equal(readFileSync(join(copy, 'ls'), 'utf8').trim(), 'model.onnx', 'no temp file left');
  },
);

test(
  'export --features over an older set: a full disk or a target that cannot be replaced leaves all three older files as they were',
  { skip: NO_TMPFS },
  async () => {
    const ckpt = join(runA, 'checkpoints', 'best.ckpt');
    const sizes = join(work, 'features-sizes');
    const e = await runEflip(
      ['export', '--checkpoint', ckpt, '--out', join(sizes, 'm.onnx'), '--features'],
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(e.code, 0, e.stderr);
    const kib = (f: string) => readFileSync(join(sizes, f)).length / 1024;
    const parts = ['model.onnx', 'model.frontend.onnx', 'model.backend.onnx'];
    for (const [label, disk, mountLast, message] of [
      // room for the older set and the new full model, not for the new front-end as well
      [
        'disk full',
        Math.ceil(3 * 40 + kib('m.onnx') + kib('m.frontend.onnx') / 2 + 8),
        false,
        /no space left on device/,
      ],
      // the back-end is a mount point: renaming over it fails after the other two were renamed
      ['busy target', 4096, true, /model\.backend\.onnx: the file is busy/],
    ] as [string, number, boolean, RegExp][]) {
      const dir = join(work, `features-${label.replace(' ', '-')}`);
      const copy = join(work, `features-${label.replace(' ', '-')}-after`);
      mkdirSync(dir);
      mkdirSync(copy);
      const older = parts
        .map((f) => `head -c 40960 /dev/urandom > ${sh(join(dir, f))}`)
        .join(' && ');
      const bind = mountLast
        ? ` && cp ${sh(join(dir, parts[2]))} ${sh(join(copy, 'bound'))} && mount --bind ${sh(join(copy, 'bound'))} ${sh(join(dir, parts[2]))}`
        : '';
      const r = await runMounted(
        ['export', '--checkpoint', ckpt, '--out', join(dir, 'model.onnx'), '--features'],
        {
          tmpfs: [{ dir, kib: disk }],
          prepare: `${older} && sha1sum ${parts.map((f) => sh(join(dir, f))).join(' ')} > ${sh(join(copy, 'before'))}${bind}`,
          after: `sha1sum ${parts.map((f) => sh(join(dir, f))).join(' ')} > ${sh(join(copy, 'after'))}; ls -A ${sh(dir)} > ${sh(join(copy, 'ls'))}`,
          timeoutMs: 60_000,
        },
      );
      assertRefused(r, message, { label, maxMs: 30_000 });
      assert.equal(
        readFileSync(join(copy, 'after'), 'utf8'),
        readFileSync(join(copy, 'before'), 'utf8'),
        `${label}: the older model and its pair are intact`,
      );
      assert.deepEqual(
        readFileSync(join(copy, 'ls'), 'utf8').trim().split('\n').sort(),
        [...parts].sort(),
        `${label}: no temp file left`,
      );
    }
  },
);

// ---------------------------------------------------------------- roi: nothing beside inputs, nothing in cwd

test('roi writes no landmark cache beside the video or into the cwd; the cache is per user, --landmarks writes where asked', async () => {
  const dir = join(work, 'roi-cache');
  const cwd = join(work, 'roi-cwd');
  mkdirSync(dir);
  mkdirSync(cwd);
  const clip = join(dir, 'talk.mp4');
  cpSync(faceVideo, clip);
  const before = snapshot(dir);
  const cache = join(work, 'roi-user-cache');
  let r = await runEflip(['roi', clip, '--landmarks-only', '--every', '3'], {
    cwd,
    env: { EFLIP_CACHE_DIR: cache },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assertBounded(r, { maxMs: 60_000, label: 'roi --landmarks-only' });
  assert.match(r.stdout, / → landmark cache only \(/);
  assertUnchanged(dir, before, { label: 'input dir' });
  assert.deepEqual(readdirSync(cwd), [], 'nothing in the cwd');
  const cached = readdirSync(join(cache, 'landmarks'));
  assert.equal(cached.length, 1);
  assert.match(cached[0], /^[0-9a-f]{64}\.json$/);
  r = await runEflip(['roi', clip, '--landmarks-only', '--every', '3'], {
    cwd,
    env: { EFLIP_CACHE_DIR: cache },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /landmarks from cache.* → nothing written \(landmarks already cached\) \(/,
  );
  // --no-cache: computed, nothing written anywhere, and the summary says so
  r = await runEflip(['roi', clip, '--landmarks-only', '--every', '3', '--no-cache'], {
    cwd,
    env: { EFLIP_CACHE_DIR: cache },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /detections \+ \d+ tracked.* → nothing written \(--no-cache\) \(/);
  assert.deepEqual(readdirSync(join(cache, 'landmarks')), cached, 'the cache untouched');
  assert.deepEqual(readdirSync(cwd), [], 'nothing in the cwd');
  if (!NO_TMPFS) {
    // a full disk under the ROI video: one line, the older file there intact, no temp left
    const disk = join(work, 'small-disk3');
    const copy = join(work, 'small-disk3-after');
    mkdirSync(disk);
    mkdirSync(copy);
    const out = join(disk, 'talk.roi.mp4');
    r = await runMounted(['roi', clip, '--out', out, '--every', '3'], {
      tmpfs: [{ dir: disk, kib: 32 }],
      env: { EFLIP_CACHE_DIR: cache },
      cwd,
      prepare: `head -c 30000 /dev/urandom > ${sh(out)} && sha1sum < ${sh(out)} > ${sh(join(copy, 'before'))}`,
      after: `sha1sum < ${sh(out)} > ${sh(join(copy, 'after'))}; ls -A ${sh(disk)} > ${sh(join(copy, 'ls'))}`,
    });
    assertRefused(r, /talk\.roi\.mp4: ffmpeg could not encode: .*No space left on device/, {
      maxMs: 30_000,
    });
    assert.equal(
      readFileSync(join(copy, 'after'), 'utf8'),
      readFileSync(join(copy, 'before'), 'utf8'),
      'the older ROI video is intact',
    );
    assert.equal(
      readFileSync(join(copy, 'ls'), 'utf8').trim(),
      'talk.roi.mp4',
      'no temp file left',
    );
  }
  // --landmarks FILE writes where asked (the XDG_CACHE_HOME default root: test/roi.test.ts)
  r = await runEflip(['roi', clip, '--landmarks', join(cwd, 'asked.json'), '--every', '3'], {
    cwd,
    env: { EFLIP_CACHE_DIR: cache },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(cwd), ['asked.json'], 'only the file asked for');
  assert.equal(
    JSON.parse(readFileSync(join(cwd, 'asked.json'), 'utf8')).format,
    'eflip-landmarks/1',
  );
  assertUnchanged(dir, before, { label: 'input dir' });
  // prepare --crop landmarks finds what roi cached
  const lrw = join(work, 'lm-corpus');
  mkdirSync(join(lrw, 'ABOUT', 'train'), { recursive: true });
  cpSync(clip, join(lrw, 'ABOUT', 'train', 'ABOUT_00001.mp4'));
  r = await runEflip(
    [
      'prepare',
      '--lrw',
      lrw,
      '--out',
      join(work, 'lm-shards'),
      '--crop',
      'landmarks',
      '--splits',
      'train',
      '--jobs',
      '1',
      '--quiet',
      '--json',
    ],
    { env: { EFLIP_CACHE_DIR: cache }, timeoutMs: 60_000 },
  );
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(JSON.parse(r.stdout).prepared, 1, r.stdout);
});

test('worst case of this suite', () => {
  console.log(`hostile_files: peak RSS ${worst.peakMiB.toFixed(0)} MiB (${worst.label})`);
});
