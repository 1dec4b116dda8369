// Training paths beyond the default: bf16 autocast (train.precision=bf16) and prepared shards
// (data.shards, the src/data loader with worker threads and loader-side mixup), including a
// mid-epoch resume from shards. Tiny synth corpus, seconds per run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { cpuNativeBf16 } from '../src/engine/index.js';
import { MetricsLog } from '../src/train/metrics_log.js';
import { tinyCorpus, tinyOverrides, eflip, configs } from './train_helpers.js';

const synth = join(configs, 'synth.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'eflip-paths-'));

const records = (runDir: string) => MetricsLog.read(join(runDir, 'metrics.jsonl'));
const stepLosses = (runDir: string) =>
  new Map(
    records(runDir)
      .filter((r) => r.kind === 'step')
      .map((r) => [r.step as number, r.loss as number]),
  );

test('bf16 autocast trains (finite, falling loss close to fp32), records its precision, and the checkpoint evaluates', () => {
  const root = tinyCorpus();
  // full-batch steps on the 8 train clips without augmentation or dropout: the loss must fall fast;
  // bn_momentum=1 makes the running statistics those of the training batch, so eval mode fits too
  const fit = [
    'train.batch_size=8',
    'train.epochs=10',
    'schedule.warmup_epochs=0',
    'train.label_smoothing=0',
    'model.bn_momentum=1',
    'data.augment.random_crop=false',
    'data.augment.hflip=0',
    'data.augment.time_mask_s=0',
    'model.dropout=0',
    'model.tcn_dropout=0',
    'model.transformer_dropout=0',
  ];
  const run = (precision: string) => {
    const runDir = join(tmp, precision);
    const r = eflip([
      'train',
      '--config',
      synth,
      ...tinyOverrides(root, runDir),
      ...fit,
      `train.precision=${precision}`,
    ]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`precision ${precision}`));
    return { runDir, losses: stepLosses(runDir), last: join(runDir, 'checkpoints', 'last.ckpt') };
  };
  const f32 = run('fp32');
  const b16 = run('bf16');
  assert.equal(b16.losses.size, 10);
  const l = [...b16.losses.values()];
  assert.ok(l.every(Number.isFinite), `finite losses: ${l}`);
  assert.ok(l[9] < 0.1 * l[0], `loss falls: ${l.map((v) => v.toFixed(4)).join(' ')}`);
  assert.ok(
    l.slice(5).reduce((a, b) => a + b) < l.slice(0, 5).reduce((a, b) => a + b) / 4,
    'second half well below the first',
  );
  // same seed, same first batch: bf16 rounds differently (autocast is on) but stays close to fp32
  const x = f32.losses.get(1)!,
    y = b16.losses.get(1)!;
  assert.notEqual(x, y, 'bf16 step 1 loss differs from fp32 (autocast active)');
  assert.ok(Math.abs(x - y) < 0.02 * x, `bf16 ${y} vs fp32 ${x} at step 1`);

  const ck = readCheckpoint(b16.last);
  assert.equal(ck.trainConfig.train.precision, 'bf16', 'the checkpoint records the precision');
  assert.equal(ck.state.step, 10);
  for (const [k, t] of ck.model)
    if (k.endsWith('.weight')) assert.equal(t.dtype, 'float32', `${k} stored as float32`);
  // the checkpoint loads and evaluates (fp32): the raw weights fit the training clips
  const ev = eflip([
    'eval',
    '--checkpoint',
    b16.last,
    '--data',
    root,
    '--split',
    'train',
    '--no-ema',
    '--json',
  ]);
  assert.equal(ev.status, 0, ev.stderr + ev.stdout);
  const m = JSON.parse(ev.stdout);
  assert.equal(m.weights, 'model');
  assert.equal(m.samples, 8);
  assert.equal(m.top1, 1, `train top-1 ${m.top1}`);
  assert.ok(m.loss < 0.05, `eval loss ${m.loss}`);
  const ema = eflip(['eval', '--checkpoint', b16.last, '--data', root, '--split', 'val', '--json']);
  assert.equal(ema.status, 0, ema.stderr + ema.stdout);
  assert.equal(JSON.parse(ema.stdout).weights, 'ema');
  assert.ok(Number.isFinite(JSON.parse(ema.stdout).loss));
});

test('train.precision=auto resolves once at start (bf16 on a CPU with native bfloat16, else fp32): one log line, and config.yaml and the checkpoint record the resolved value', () => {
  const runDir = join(tmp, 'auto');
  const r = eflip([
    'train',
    '--config',
    synth,
    ...tinyOverrides(tinyCorpus(), runDir),
    'train.epochs=1',
    'train.precision=auto',
  ]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const want = cpuNativeBf16() ? 'bf16' : 'fp32';
  const lines = r.stdout.split('\n').filter((l) => l.includes('train.precision=auto'));
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0], new RegExp(`^train\\.precision=auto → ${want} \\(`));
  assert.match(r.stdout, new RegExp(`precision ${want}`));
  assert.match(
    readFileSync(join(runDir, 'config.yaml'), 'utf8'),
    new RegExp(`\\n  precision: ${want}\\n`),
  );
  const ck = readCheckpoint(join(runDir, 'checkpoints', 'last.ckpt'));
  assert.equal(ck.trainConfig.train.precision, want);
});

test('data.shards: prepared shards train for the expected steps, and a mid-epoch resume continues the same batches', () => {
  const root = tinyCorpus();
  const shards = join(tmp, 'shards');
  const p = eflip([
    'prepare',
    '--lrw',
    root,
    '--out',
    shards,
    '--jobs',
    '1',
    '--shard-size',
    '3',
    '--quiet',
  ]);
  assert.equal(p.status, 0, p.stderr + p.stdout);
  assert.equal(
    readdirSync(join(shards, 'train')).filter((f) => f.endsWith('.bin')).length,
    3,
    '8 train clips in shards of 3',
  );
  // loader-side mixup on, so its per-step seeding is resumed too
  const over = (name: string) => [
    ...tinyOverrides(root, join(tmp, name)),
    `data.shards=${shards}`,
    'train.epochs=2',
    'data.augment.mixup_alpha=0.4',
  ];

  // A: 2 epochs × 4 steps (8 clips, batch 2), uninterrupted
  const a = eflip(['train', '--config', synth, ...over('A')]);
  assert.equal(a.status, 0, a.stderr + a.stdout);
  assert.match(a.stdout, /loading prepared shards from /);
  assert.match(a.stdout, /2 words \(grey\); clips: train 8, val 4, test 0/);
  const la = stepLosses(join(tmp, 'A'));
  assert.deepEqual(
    [...la.keys()],
    [1, 2, 3, 4, 5, 6, 7, 8],
    'one step record per batch: 2 epochs × 8 clips / batch 2',
  );
  const epochs = records(join(tmp, 'A')).filter((r) => r.kind === 'epoch');
  assert.deepEqual(
    epochs.map((r) => [r.epoch, r.step]),
    [
      [0, 4],
      [1, 8],
    ],
  );
  assert.ok(
    epochs.every((r) => Number.isFinite(r.val_loss as number)),
    'validated on the val shards',
  );
  const cka = readCheckpoint(join(tmp, 'A', 'checkpoints', 'last.ckpt'));
  assert.equal(cka.state.step, 8);
  assert.equal(cka.state.epoch, 2);
  assert.deepEqual(cka.labels, ['ABOUT', 'ABSOLUTELY']);

  // B: the same run stopped after 5 steps (mid-epoch 2); C: resumed from B's last.ckpt
  const b = eflip(['train', '--config', synth, ...over('B'), 'train.max_steps=5']);
  assert.equal(b.status, 0, b.stderr + b.stdout);
  const last = join(tmp, 'B', 'checkpoints', 'last.ckpt');
  const ckb = readCheckpoint(last);
  assert.equal(ckb.state.step, 5);
  assert.equal(ckb.state.epoch, 1);
  assert.equal(ckb.state.batchInEpoch, 1);
  assert.equal(ckb.trainConfig.data.shards, shards);
  const c = eflip(['train', `checkpoint=${last}`, 'train.max_steps=null']);
  assert.equal(c.status, 0, c.stderr + c.stdout);
  assert.match(c.stdout, /resuming from .*last\.ckpt \(epoch 2, batch 1, step 5\)/);
  assert.match(c.stdout, /loading prepared shards from /);
  const lc = stepLosses(join(tmp, 'B')); // B's run dir holds B's and then C's records
  assert.deepEqual(
    [...lc.keys()].sort((p, q) => p - q),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  for (let s = 1; s <= 8; s++) {
    const x = la.get(s)!,
      y = lc.get(s)!;
    assert.ok(Number.isFinite(x) && Number.isFinite(y), `step ${s}`);
    assert.ok(
      Math.abs(x - y) <= 1e-4 * Math.abs(x),
      `step ${s}: uninterrupted ${x} vs resumed ${y}`,
    );
  }
  assert.equal(readCheckpoint(last).state.step, 8);
});

test('a metrics append that fails (full disk) names the file in one line; checkpoint=DIR without last.ckpt names the newest checkpoint or says there is none', async () => {
  const { resolveCheckpointPath } = await import('../src/train/run.js');
  const { writeFileSync, mkdirSync, utimesSync } = await import('node:fs');
  // /dev/full: every write fails with ENOSPC (a bare "ENOSPC: ..., write" before)
  assert.throws(
    () => new MetricsLog('/dev/full').append({ kind: 'step', step: 1, epoch: 0 } as never),
    /^WriteError: cannot write \/dev\/full: no space left on device/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'eflip-nockpt-'));
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  assert.throws(
    () => resolveCheckpointPath(dir),
    /no checkpoint under .*: that run stopped before it wrote one, so there is nothing to resume/,
  );
  mkdirSync(join(dir, 'checkpoints'));
  for (const [n, t] of [
    ['epoch=1-step=4.ckpt', 1000],
    ['epoch=2-step=8.ckpt', 2000],
  ] as const) {
    writeFileSync(join(dir, 'checkpoints', n), 'x');
    utimesSync(join(dir, 'checkpoints', n), t, t);
  }
  assert.throws(
    () => resolveCheckpointPath(dir),
    /no last\.ckpt under .*; its newest checkpoint is .*epoch=2-step=8\.ckpt \(resume from it with checkpoint=/,
  );
});

test('one trainer per run dir: a live holder of the lock refuses a second, a dead one (kill -9) is taken over, release removes it', async () => {
  const { lockRunDir, LOCK_FILE } = await import('../src/train/run_lock.js');
  const { existsSync, writeFileSync } = await import('node:fs');
  const { hostname } = await import('node:os');
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'eflip-lock-'));
  const release = lockRunDir(dir);
  assert.ok(existsSync(join(dir, LOCK_FILE)));
  // another live process holding it
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    const held = { pid: other.pid, host: hostname(), started: '2026-12-01T00:00:00Z' };
    release();
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'released');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(held));
    assert.throws(
      () => lockRunDir(dir),
      new RegExp(
        `run_dir .* is in use by eflip train \\(pid ${other.pid}, since .*\\); wait for it to end, or give another run_dir`,
      ),
    );
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...held, host: 'elsewhere' }));
    assert.throws(
      () => lockRunDir(dir),
      /in use by eflip train on elsewhere .*if that run is gone, delete/,
    );
  } finally {
    other.kill('SIGKILL');
  }
  await new Promise((r) => other.once('exit', r));
  // the holder is gone: stale, taken over
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: other.pid, host: hostname(), started: 'x' }),
  );
  const again = lockRunDir(dir);
  assert.match(readFileSync(join(dir, LOCK_FILE), 'utf8'), new RegExp(`"pid":${process.pid}`));
  again();
  assert.deepEqual(readdirSync(dir), []);
});
