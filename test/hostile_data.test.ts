// Issue #16, data, config and loader: hostile shards, batch sizes, thread counts, config keys
// and files, word lists, clip caches, LRW trees and prepare targets, through the real CLI on a
// real synth corpus (ffmpeg mp4s) and real prepared shards. Every refusal is one line, bounded
// in time and memory, and leaves the user's files as they were; a shard cut mid-run leaves a
// resumable checkpoint that a resumed run continues from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
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
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  runEflip,
  assertRefused,
  assertBounded,
  snapshot,
  assertUnchanged,
  tempDir,
  EFLIP_BIN,
  type CliRun,
} from './hostile_helpers.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { prepare } from '../src/data/prepare.js';

const work = tempDir('eflip-hostile-data-');
const env = { EFLIP_CLIP_CACHE: join(work, 'clip-cache') };
const synthYaml = new URL('../../configs/synth.yaml', import.meta.url).pathname;
const corpus = join(work, 'corpus');
const shards = join(work, 'shards');
/** configs/synth.yaml (batch_size 16) made seconds-long: more than the 6 train clips per batch */
const tiny = [
  'data.words=null',
  'data.size=24',
  'data.frames=8',
  'data.workers=1',
  'train.threads=1',
  'train.log_every=1',
  'model.feature_dim=32',
  'model.tcn_channels=32',
  'model.transformer_heads=2',
  'model.transformer_ffn=32',
  'train.test_at_end=false',
  'early_stopping.enabled=false',
];
const eflip = (args: string[], timeoutMs = 40_000, extraEnv: Record<string, string> = {}) =>
  runEflip(args, { cwd: work, timeoutMs, env: { ...env, ...extraEnv } });

// 2 words × (train 3, val 1, test 1) real mp4 clips, prepared into 2-clip shards of 40×40 grey
const ready = (async () => {
  const s = await eflip(
    [
      'synth',
      '--out',
      corpus,
      '--words',
      '2',
      '--train',
      '3',
      '--val',
      '1',
      '--test',
      '1',
      '--seed',
      '3',
      '--jobs',
      '1',
      '--quiet',
    ],
    60_000,
  );
  assert.equal(s.code, 0, s.stderr);
  const p = await eflip([
    'prepare',
    '--lrw',
    corpus,
    '--out',
    shards,
    '--size',
    '40',
    '--shard-size',
    '2',
    '--jobs',
    '1',
    '--quiet',
  ]);
  assert.equal(p.code, 0, p.stderr);
})();

const REFUSED = { code: 2 }; // usage and config errors
/** a copy of the prepared shards to damage */
function shardCopy(name: string): string {
  const d = join(work, name);
  cpSync(shards, d, { recursive: true });
  return d;
}
const trainShards = (dir: string) =>
  readdirSync(join(dir, 'train'))
    .filter((n) => n.endsWith('.bin'))
    .sort()
    .map((n) => join(dir, 'train', n));
/** a new run directory for every run (a run dir holding a run is refused) */
let runs = 0;
const fresh = (name: string) => join(work, `${name}-${++runs}`);
const stepsOf = (r: CliRun) =>
  Number(/training finished: .* after (\d+) steps/.exec(r.stdout)?.[1]);

test('batch_size above the train set: one short batch per epoch, the same on shards and data.root (was: zero steps, 100 % CPU forever)', async () => {
  await ready;
  const onShards = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${shards}`,
    `run_dir=${fresh('run-short-shards')}`,
    ...tiny,
    'train.epochs=2',
  ]);
  assert.equal(onShards.code, 0, onShards.stderr);
  assertBounded(onShards, { label: 'short batch on shards' });
  assert.match(onShards.stdout, /clips: train 6,/);
  assert.equal(stepsOf(onShards), 2, onShards.stdout.slice(-2000));
  const before = snapshot(corpus);
  const onRoot = await eflip([
    'train',
    '--config',
    synthYaml,
    `data.root=${corpus}`,
    `run_dir=${fresh('run-short-root')}`,
    ...tiny,
    'train.epochs=2',
  ]);
  assert.equal(onRoot.code, 0, onRoot.stderr);
  assert.equal(
    stepsOf(onRoot),
    stepsOf(onShards),
    'the in-memory source and the shard loader count the same steps',
  );
  assertUnchanged(corpus, before, { label: 'corpus' });
});

test('a truncated or corrupt shard is refused at start with one line naming the file and what is wrong; a corrupt val shard is not skipped', async () => {
  await ready;
  const cut = shardCopy('shards-cut');
  const victim = trainShards(cut)[1];
  truncateSync(victim, 3000);
  let before = snapshot(cut);
  let r = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${cut}`,
    `run_dir=${fresh('run-cut')}`,
    ...tiny,
  ]);
  assertRefused(
    r,
    /shard .*train\/shard-00001\.bin: record 0 .* ends at byte \d+ but the file has 3000 bytes \(truncated\).*re-run eflip prepare/,
    { code: 1, label: 'truncated train shard' },
  );
  assertUnchanged(cut, before, { label: 'cut shards' });

  const bad = shardCopy('shards-badval');
  const val = join(bad, 'val', readdirSync(join(bad, 'val'))[0]);
  writeFileSync(
    val,
    Buffer.concat([Buffer.from('EFLIPSH1'), Buffer.from([5, 0, 0, 0]), Buffer.from('{"ver')]),
  );
  before = snapshot(bad);
  r = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${bad}`,
    `run_dir=${fresh('run-badval')}`,
    ...tiny,
  ]);
  assertRefused(r, /shard .*val\/shard-00000\.bin: corrupt header/, {
    code: 1,
    label: 'corrupt val shard',
  });
  // a header claiming 4 GB, and a file that is no shard at all
  writeFileSync(
    val,
    Buffer.concat([Buffer.from('EFLIPSH1'), Buffer.from([0xff, 0xff, 0xff, 0xff])]),
  );
  r = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${bad}`,
    `run_dir=${fresh('run-badval')}`,
    ...tiny,
  ]);
  assertRefused(
    r,
    /shard .*val\/shard-00000\.bin: header of 4294967295 bytes but the file has 12 bytes/,
    { code: 1, label: 'huge header length' },
  );
  writeFileSync(val, 'hello');
  r = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${bad}`,
    `run_dir=${fresh('run-badval')}`,
    ...tiny,
  ]);
  assertRefused(r, /shard .*val\/shard-00000\.bin: not an eflip shard/, {
    code: 1,
    label: 'not a shard',
  });
  assertUnchanged(bad, snapshot(bad));
});

test('a split mixing shards of different sizes or channels is refused naming both files', async () => {
  await ready;
  const other = join(work, 'shards-48');
  const p = await eflip([
    'prepare',
    '--lrw',
    corpus,
    '--out',
    other,
    '--size',
    '48',
    '--shard-size',
    '2',
    '--splits',
    'train',
    '--jobs',
    '1',
    '--quiet',
  ]);
  assert.equal(p.code, 0, p.stderr);
  const mixed = shardCopy('shards-mixed');
  cpSync(trainShards(other)[0], join(mixed, 'train', 'shard-00009.bin'));
  const before = snapshot(mixed);
  const r = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${mixed}`,
    `run_dir=${fresh('run-mixed')}`,
    ...tiny,
  ]);
  assertRefused(
    r,
    /shard-00000\.bin holds 40×40 clips but shard-00009\.bin holds 48×48 clips \(mixed preparations/,
    { code: 1, label: 'mixed sizes' },
  );
  assertUnchanged(mixed, before, { label: 'mixed shards' });
  // an input crop larger than the prepared frames: refused before the first step, not a data error at step 0
  const bigRun = fresh('run-big');
  const big = await eflip([
    'train',
    '--config',
    synthYaml,
    'data.root=null',
    `data.shards=${shards}`,
    `run_dir=${bigRun}`,
    ...tiny,
    'data.size=64',
  ]);
  assertRefused(
    big,
    /data\.size=64 is larger than the 40×40 clips of data\.shards=.* \(train\); set data\.size to at most 40/,
    { code: 1, label: 'data.size > shard side' },
  );
  assert.ok(!existsSync(join(bigRun, 'checkpoints', 'last.ckpt')));
});

test('a shard cut while training: one line naming it, a resumable checkpoint, and the resumed run continues', async () => {
  await ready;
  const dir = shardCopy('shards-midrun');
  const runDir = join(work, 'run-midrun');
  const child = spawn(
    process.execPath,
    [
      EFLIP_BIN,
      'train',
      '--config',
      synthYaml,
      'data.root=null',
      `data.shards=${dir}`,
      `run_dir=${runDir}`,
      ...tiny,
      'train.epochs=300',
    ],
    { cwd: work, env: { ...process.env, ...env } },
  );
  let stdout = '',
    stderr = '',
    cut = false;
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      // after the first epoch (and its checkpoint), cut every train shard under the open loader
      if (!cut && /^epoch 1:/m.test(stdout)) {
        cut = true;
        for (const f of trainShards(dir)) truncateSync(f, 100);
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const ms = performance.now() - t0;
  assert.ok(cut, `never reached epoch 1: ${stderr}`);
  assert.equal(code, 1, `exit ${code}\n${stderr}\n${stdout.slice(-1500)}`);
  assert.ok(ms < 60_000, `took ${ms} ms`);
  assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+|Unhandled|loader\.js/, stderr);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  const m =
    /shard .*train\/shard-\d+\.bin: record \d+ .*is truncated.*training stopped at step (\d+) \(epoch (\d+), batch 1\), resumable checkpoint saved to (\S+last\.ckpt)/.exec(
      lines[0],
    );
  assert.ok(m, lines[0]);
  const [step, epoch, ckpt] = [Number(m[1]), Number(m[2]), m[3]];
  assert.ok(existsSync(ckpt));
  const ck = readCheckpoint(ckpt);
  assert.equal(ck.state.step, step);
  assert.equal(ck.state.epoch, epoch - 1);
  assert.equal((ck.state as unknown as { reason: string }).reason, 'data error');
  // the data fixed (the shards prepared again), the run resumes where it stopped and finishes
  cpSync(join(shards, 'train'), join(dir, 'train'), { recursive: true });
  const r = await eflip(['train', `checkpoint=${ckpt}`, `train.epochs=${epoch + 1}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`resuming from .*last\\.ckpt \\(epoch ${epoch}, batch 0, step ${step}\\)`),
  );
  assert.match(r.stdout, /training finished: completed all epochs/);
  assert.equal(stepsOf(r), step + 2);
});

test('thread, worker and job counts are bounded (4 per core) with one line; every command shares the rule', async () => {
  await ready;
  const max = 4 * availableParallelism();
  const over = String(max + 1);
  const cases: [string[], RegExp][] = [
    [
      ['train', 'train.threads=3000'],
      /config key 'train\.threads' is 3000: at most \d+ on this machine/,
    ],
    [
      ['train', `data.workers=${over}`],
      new RegExp(`config key 'data\\.workers' is ${over}: at most ${max} on this machine`),
    ],
    [
      ['predict', '--threads', '100000', 'x.mp4'],
      /--threads is 100000: at most \d+ on this machine \(4 per core/,
    ],
    [
      ['prepare', '--lrw', corpus, '--out', join(work, 'never'), '--jobs', '100000'],
      /--jobs is 100000: at most/,
    ],
    [
      ['synth', '--out', join(work, 'never'), '--jobs', '0'],
      /--jobs must be an integer >= 1, got 0/,
    ],
    [['stream', 'x.mp4', '--threads', '-1'], /--threads must be an integer >= 1, got -1/],
    [['bench', 'ops', '--threads', '1e9'], /--threads is 1000000000: at most/],
  ];
  for (const [args, re] of cases)
    assertRefused(await eflip(args, 15_000), re, {
      ...REFUSED,
      maxMs: 15_000,
      label: args.join(' '),
    });
  assert.ok(!existsSync(join(work, 'never')));
});

test('OMP_NUM_THREADS / MKL_NUM_THREADS of 100000 are bounded by the same rule (4 per core) with one warning line each, before libtorch reads them', async () => {
  await ready;
  const max = 4 * availableParallelism();
  const out = join(work, 'omp.safetensors');
  // eflip init builds and initialises a T network on libtorch: parallel ops start OpenMP's threads
  const r = await eflip(['init', '--variant', 'T', '--classes', '10', '--out', out], 30_000, {
    OMP_NUM_THREADS: '100000',
    MKL_NUM_THREADS: '100000,2',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(out));
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('eflip: warning:'));
  assert.deepEqual(
    warnings.map((l) => l.replace(/ is more than.*/, '')),
    ['eflip: warning: OMP_NUM_THREADS=100000', 'eflip: warning: MKL_NUM_THREADS=100000,2'],
  );
  assert.match(warnings[0], new RegExp(`using OMP_NUM_THREADS=${max}$`));
  assert.match(warnings[1], new RegExp(`using MKL_NUM_THREADS=${max},2$`));
  assertBounded(r, { maxMs: 30_000, maxMiB: 1024, label: 'init with OMP_NUM_THREADS=100000' });
  // the rule itself: counts within the bound and values that are not counts are left alone
  const { boundThreadEnv } = await import('../src/threads.js');
  const e: Record<string, string | undefined> = {
    OMP_NUM_THREADS: String(max),
    MKL_NUM_THREADS: 'lots',
  };
  assert.deepEqual(
    boundThreadEnv(e, () => {}),
    [],
  );
  assert.deepEqual(e, { OMP_NUM_THREADS: String(max), MKL_NUM_THREADS: 'lots' });
});

test('synth writes synth.json, .txt and landmarks atomically: a synth.json linked to a user file leaves that file alone; no temp file is left', async () => {
  await ready;
  // the user's own copy of the record (synth resumes only a corpus whose synth.json matches)
  const user = join(work, 'user-notes.json');
  const record = readFileSync(join(corpus, 'synth.json'), 'utf8');
  writeFileSync(user, record);
  rmSync(join(corpus, 'synth.json'));
  symlinkSync(user, join(corpus, 'synth.json'));
  // every clip exists: the run rewrites synth.json only
  const args = ['synth', '--out', corpus, '--words', '2', '--train', '3', '--val', '1'];
  const r = await eflip([...args, '--test', '1', '--seed', '3', '--jobs', '1', '--quiet'], 30_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(user, 'utf8'), record);
  assert.ok(!lstatSync(join(corpus, 'synth.json')).isSymbolicLink());
  assert.equal(
    JSON.parse(readFileSync(join(corpus, 'synth.json'), 'utf8')).generator,
    'eflip synth',
  );
  const temps = readdirSync(corpus, { recursive: true }).filter((n) => /\.tmp/.test(String(n)));
  assert.deepEqual(temps, []);
});

test('config keys are own properties: constructor, toString, __proto__ (overrides and YAML) are unknown keys', async () => {
  const cases: string[][] = [
    ['constructor=1'],
    ['toString=1'],
    ['__proto__=1'],
    ['data.__proto__=1'],
    ['model.hasOwnProperty=1'],
    ['valueOf=2'],
  ];
  for (const c of cases)
    assertRefused(
      await eflip(['train', '--print-config', ...c], 15_000),
      /unknown config key '[\w.]+'/,
      { ...REFUSED, label: c[0] },
    );
  for (const [name, text] of [
    ['proto.yaml', '__proto__:\n  seed: 3\n'],
    ['ctor.yaml', 'constructor: 1\n'],
    ['nested.yaml', 'data:\n  toString: 1\n'],
  ]) {
    writeFileSync(join(work, name), text);
    assertRefused(
      await eflip(['train', '--print-config', '--config', name], 15_000),
      /unknown config key '(__proto__|constructor|data\.toString)'/,
      { ...REFUSED, label: name },
    );
  }
  // a near miss still gets its suggestion
  assertRefused(
    await eflip(['train', '--print-config', 'optim.lrr=1'], 15_000),
    /unknown config key 'optim\.lrr' \(did you mean 'optim\.lr'\?\)/,
    REFUSED,
  );
});

test('hostile config files and values: alias bombs, 100 MB, binary, a list, NaN, Infinity, negative epochs, 2^60', async () => {
  const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++)
    bomb.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  const files: [string, string | Buffer, RegExp][] = [
    ['bomb.yaml', bomb.join('\n') + '\nseed: *a9\n', /YAML error: Excessive alias count/],
    [
      'binary.yaml',
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe]),
      /is a binary file, not YAML/,
    ],
    ['list.yaml', '- seed\n- 1\n', /expected a mapping at the top level/],
    ['nan.yaml', 'optim:\n  lr: .nan\n', /config key 'optim\.lr' expects a number, got NaN/],
    ['inf.yaml', 'optim:\n  lr: .inf\n', /config key 'optim\.lr' expects a number, got Infinity/],
    ['epochs.yaml', 'train:\n  epochs: -3\n', /config key 'train\.epochs' must be >= 1, got -3/],
    ['dup.yaml', 'seed: 1\nseed: 2\n', /YAML error: Map keys must be unique/],
    ['section.yaml', 'data: [1, 2]\n', /config key 'data' is a section and needs a mapping/],
  ];
  for (const [name, text, re] of files) {
    writeFileSync(join(work, name), text);
    assertRefused(await eflip(['train', '--print-config', '--config', name], 15_000), re, {
      ...REFUSED,
      maxMiB: 300,
      label: name,
    });
  }
  writeFileSync(join(work, 'huge.yaml'), 'seed: 1\n');
  truncateSync(join(work, 'huge.yaml'), 100 << 20); // 100 MB (sparse)
  assertRefused(
    await eflip(['train', '--print-config', '--config', 'huge.yaml'], 15_000),
    /config huge\.yaml is 104857600 bytes; a config is a short YAML file/,
    { ...REFUSED, maxMiB: 300 },
  );
  mkdirSync(join(work, 'dir.yaml'), { recursive: true });
  assertRefused(
    await eflip(['train', '--print-config', '--config', 'dir.yaml'], 15_000),
    /config dir\.yaml is not a file/,
    REFUSED,
  );
  for (const [o, re] of [
    ['optim.lr=NaN', /expects a number, got 'NaN'/],
    ['optim.lr=-Infinity', /expects a number, got '-Infinity'/],
    ['seed=1152921504606846976', /expects an integer below 2\^53/],
    ['train.batch_size=0', /must be >= 1, got 0/],
    [
      'data.frames=100000',
      /config key 'data\.frames' must be <= 250 \(a clip holds one word — LRW's are 29 frames, .*\), got 100000/,
    ],
    [
      'model.tcn_dropout=1',
      /config key 'model\.tcn_dropout': model config: tcn\.dropout must be in \[0, 1\)/,
    ],
    [
      'model.stages=[1 3 1 8 8 1 F,9 9 9]',
      /config key 'model\.stages': stage row 1 '9 9 9': expected "expand,kernel,stride,in,out,layers,F\|M\|N"/,
    ],
  ] as const) {
    assertRefused(await eflip(['train', '--print-config', o], 15_000), re, {
      ...REFUSED,
      label: o,
    });
  }
});

test('word lists: a repeated word is refused by train, prepare, init and import alike; missing words are listed', async () => {
  await ready;
  const before = snapshot(corpus);
  const dup = /lists ABOUT more than once \(a repeated word is a class that never gets data\)/;
  assertRefused(
    await eflip(['train', '--print-config', 'data.words_list=[ABOUT,ABOUT,ABUSE]'], 15_000),
    dup,
    REFUSED,
  );
  writeFileSync(
    join(work, 'dupwords.yaml'),
    'data:\n  words: null\n  words_list: [ABOUT, ABOUT, ABUSE]\n',
  );
  assertRefused(
    await eflip(['train', '--print-config', '--config', 'dupwords.yaml'], 15_000),
    dup,
    REFUSED,
  );
  assertRefused(
    await eflip([
      'prepare',
      '--lrw',
      corpus,
      '--out',
      join(work, 'never'),
      '--words',
      'ABOUT,ABOUT',
    ]),
    dup,
    { code: 1 },
  );
  writeFileSync(join(work, 'dup.txt'), 'ABOUT\nABUSE\nABOUT\n');
  assertRefused(
    await eflip([
      'init',
      '--out',
      join(work, 'never.safetensors'),
      '--classes',
      '3',
      '--labels',
      'dup.txt',
    ]),
    /labels 'dup\.txt' lists ABOUT more than once/,
    { code: 1 },
  );
  assertRefused(
    await eflip([
      'train',
      '--config',
      synthYaml,
      `data.root=${corpus}`,
      `run_dir=${fresh('run-missing')}`,
      ...tiny,
      'data.words_list=ABOUT,NOPE,ZZZ',
    ]),
    /config key 'data\.words_list': 2 word\(s\) not in .*corpus: NOPE, ZZZ/,
    { code: 1 },
  );
  writeFileSync(join(work, 'bad.txt'), 'ABOUT\nNOPE\n');
  assertRefused(
    await eflip([
      'train',
      '--config',
      synthYaml,
      `data.root=${corpus}`,
      `run_dir=${fresh('run-missing')}`,
      ...tiny,
      'data.words_list=bad.txt',
    ]),
    /data\.words_list file bad\.txt: 1 word\(s\) not in .*corpus: NOPE/,
    { code: 1 },
  );
  assertRefused(
    await eflip([
      'train',
      '--config',
      synthYaml,
      `data.root=${corpus}`,
      `run_dir=${fresh('run-missing')}`,
      ...tiny,
      'data.words_list=@/dev/zero',
    ]),
    /word list '\/dev\/zero' is not a file/,
    { code: 1 },
  );
  assert.ok(!existsSync(join(work, 'never')) && !existsSync(join(work, 'never.safetensors')));
  assertUnchanged(corpus, before, { label: 'corpus' });
});

test('data.root with hostile but usable data: a word file, an unreadable clip, a FIFO named .mp4, a word dir with a space, a .txt without Duration, an unusable clip cache — trains, one warning each', async () => {
  await ready;
  const root = join(work, 'corpus-rough');
  cpSync(corpus, root, { recursive: true });
  const [w0, w1] = readdirSync(root)
    .filter((n) => !n.endsWith('.json'))
    .sort();
  const clips = readdirSync(join(root, w0, 'train'))
    .filter((n) => n.endsWith('.mp4'))
    .sort();
  const mp4 = join(root, w0, 'train', clips[0]);
  writeFileSync(mp4, readFileSync(mp4).subarray(0, 3000)); // a cut download
  writeFileSync(join(root, w0, 'train', clips[1].replace('.mp4', '.txt')), 'Speaker: nobody\n'); // no Duration line
  execFileSync('mkfifo', [join(root, w1, 'train', 'ZZZ_fifo.mp4')]); // ffmpeg would wait on it forever
  mkdirSync(join(root, 'BAD WORD', 'train'), { recursive: true }); // a name labels.txt cannot hold
  cpSync(join(root, w0, 'train', clips[2]), join(root, 'BAD WORD', 'train', clips[2]));
  writeFileSync(
    join(work, 'words.lst'),
    `# reversed: the file's order is the class order\n${w1}\n${w0}\n`,
  );
  writeFileSync(join(work, 'a-file'), 'not a directory');
  const before = snapshot(root);
  const runDir = join(work, 'run-rough');
  const r = await eflip(
    [
      'train',
      '--config',
      synthYaml,
      `data.root=${root}`,
      `run_dir=${runDir}`,
      ...tiny,
      'train.epochs=1',
      'data.words_list=words.lst',
      'data.word_boundary=true',
    ],
    40_000,
    { EFLIP_CLIP_CACHE: join(work, 'a-file', 'cache') },
  );
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
  assertBounded(r, { label: 'rough root' });
  assert.match(
    r.stdout,
    /warning: clip cache .*a-file\/cache is not usable \(ENOTDIR.*continuing without it — set data\.cache=false/,
  );
  assert.match(
    r.stdout,
    new RegExp(`warning: skipped 1 clip\\(s\\) under .* \\(unreadable, .*\\): .*${clips[0]}: `),
  );
  assert.match(
    r.stdout,
    /note: 1 clip\(s\) under .* have no \.txt with a readable Duration line \(kept; their word-boundary plane covers the whole clip\)/,
  );
  assert.match(
    r.stdout,
    /warning: skipped 2 entries under .*BAD WORD: word directory skipped: a label cannot hold whitespace or #/,
  );
  assert.match(r.stdout, /clips: train 5, val 2/);
  assert.deepEqual(readCheckpoint(join(runDir, 'checkpoints', 'last.ckpt')).labels, [w1, w0]);
  assertUnchanged(root, before, { label: 'rough corpus' });
  assert.equal(readFileSync(join(work, 'a-file'), 'utf8'), 'not a directory');
});

test('LRW roots that are missing or empty are refused with one line', async () => {
  mkdirSync(join(work, 'empty-root', 'ABOUT', 'train'), { recursive: true });
  const cases: [string, RegExp][] = [
    [
      join(work, 'no-such-root'),
      /LRW root '.*no-such-root' is not a directory \(expected ROOT\/WORD\/\{train,val,test\}\/\*\.mp4\)/,
    ],
    [join(work, 'empty-root'), /no clips under .*empty-root/],
  ];
  for (const [root, re] of cases) {
    assertRefused(
      await eflip([
        'train',
        '--config',
        synthYaml,
        `data.root=${root}`,
        `run_dir=${fresh('run-noroot')}`,
        ...tiny,
      ]),
      re,
      { code: 1, label: root },
    );
    assertRefused(await eflip(['prepare', '--lrw', root, '--out', join(work, 'never')]), re, {
      code: 1,
      label: root,
    });
  }
  assert.ok(!existsSync(join(work, 'never')));
});

test('prepare refuses a target that is a file, holds other files, sits inside the LRW tree, or has a corrupt prepare.json; a cut shard is rebuilt', async () => {
  await ready;
  const user = join(work, 'user-files');
  mkdirSync(user, { recursive: true });
  writeFileSync(join(user, 'labels.txt'), 'my own labels\n');
  writeFileSync(join(user, 'notes.md'), 'keep me\n');
  const broken = shardCopy('shards-badmanifest');
  writeFileSync(join(broken, 'prepare.json'), '{"version": 1, "pl');
  const cases: [string, RegExp][] = [
    [
      user,
      /--out .*user-files is not empty and holds no eflip preparation \(no prepare\.json\); use a new or empty directory/,
    ],
    [join(user, 'notes.md'), /--out .*notes\.md is a file, not a directory/],
    [
      join(corpus, 'shards'),
      /--out .* is inside the directory --lrw .*: writing into it would mix the outputs into the input; choose another --out/,
    ],
    [broken, /prepare\.json is corrupt \(.*\); use a new --out/],
    [
      shards,
      /already holds a different preparation \(other words, clips, crop or size\); use a new --out/,
    ], // --size 96 ≠ 40
  ];
  for (const [out, re] of cases) {
    const snapOf = [user, broken, shards, corpus].map((d) => [d, snapshot(d)] as const);
    assertRefused(
      await eflip(['prepare', '--lrw', corpus, '--out', out, '--jobs', '1', '--quiet']),
      re,
      { code: 1, label: out },
    );
    for (const [d, s] of snapOf) assertUnchanged(d, s, { label: `${out}: ${d}` });
  }
  // out-of-range sizes: the option parser's usage error (exit 2), bounds from PREPARE_LIMITS
  for (const [flag, v, range] of [
    ['--shard-size', '0', 'between 1 and 65536'],
    ['--shard-size', '65537', 'between 1 and 65536'],
    ['--size', '7', 'between 8 and 1024'],
    ['--size', '100000', 'between 8 and 1024'],
  ])
    assertRefused(
      await eflip(['prepare', '--lrw', corpus, '--out', join(work, 'never'), flag, v]),
      new RegExp(`eflip prepare: ${flag} must be ${range}, got ${v}`),
      { code: 2, label: `${flag} ${v}` },
    );
  assert.equal(existsSync(join(work, 'never')), false);
  // the library keeps the same check for its own callers
  await assert.rejects(
    prepare({ lrw: corpus, out: join(work, 'never'), shardSize: 0 }),
    /--shard-size must be an integer from 1 to 65536 clips, got 0/,
  );
  // the same preparation again: finished shards kept, a truncated one rebuilt
  const again = shardCopy('shards-again');
  const victim = trainShards(again)[0];
  const good = readFileSync(victim);
  truncateSync(victim, 500);
  const r = await eflip([
    'prepare',
    '--lrw',
    corpus,
    '--out',
    again,
    '--size',
    '40',
    '--shard-size',
    '2',
    '--jobs',
    '1',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\(1 written now, \d+ already done\)/);
  assert.equal(readFileSync(victim).length, good.length);
});
