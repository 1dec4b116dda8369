// Data-parallel training on CPU: gloo over 127.0.0.1, workers started by `eflip train
// --nproc-per-node` (and by two launchers as two "machines"). Tiny model and corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { cpuNativeBf16 } from '../src/engine/index.js';
import { rawToFloat32 } from '../src/io/safetensors.js';
import { MetricsLog, type MetricRecord } from '../src/train/metrics_log.js';
import { freePort } from '../src/train/launcher.js';
import { tinyCorpus, tinyOverrides, eflip, bin, configs } from './train_helpers.js';

const cfg = join(configs, 'synth.yaml');
// deterministic: no dropout, no augmentation; grad_clip only to log the gradient norm. Adam's eps
// is raised so that parameters whose gradient is zero up to rounding (biases in front of a batch
// norm) are not moved by ±lr·sign(rounding noise), and so that a summed (not averaged) gradient
// moves parameters measurably differently.
const exact = (root: string, run: string) => [
  ...tinyOverrides(root, run),
  'train.epochs=2',
  'model.dropout=0',
  'model.transformer_dropout=0',
  'model.tcn_dropout=0',
  'model.drop_path=0',
  'data.augment.random_crop=false',
  'data.augment.hflip=0',
  'data.augment.time_mask_s=0',
  'data.augment.mixup_alpha=0',
  'train.grad_clip=100',
  'optim.eps=1e-3',
];

const records = (run: string, kind: MetricRecord['kind']) =>
  MetricsLog.read(join(run, 'metrics.jsonl')).filter((r) => r.kind === kind);

/** Largest relative L2 difference of the float tensors of two checkpoints' models (floor 1e-6 absolute for ~zero tensors). */
function paramDiff(a: string, b: string): { worst: number; name: string; global: number } {
  const A = readCheckpoint(a).model,
    B = readCheckpoint(b).model;
  let worst = 0,
    name = '',
    d2 = 0,
    n2 = 0;
  assert.equal(A.size, B.size);
  for (const [k, ra] of A) {
    if (ra.dtype !== 'float32') continue;
    const x = rawToFloat32(ra),
      y = rawToFloat32(B.get(k)!);
    let d = 0,
      n = 0;
    for (let i = 0; i < x.length; i++) {
      d += (x[i] - y[i]) ** 2;
      n += x[i] ** 2;
    }
    d2 += d;
    n2 += n;
    const r = Math.sqrt(d) / (Math.sqrt(n) + 0.1); // ‖a−b‖ ≤ 1e-5·(‖a‖ + 0.1): relative, absolute 1e-6 near zero
    if (r > worst) {
      worst = r;
      name = k;
    }
  }
  return { worst, name, global: Math.sqrt(d2 / n2) };
}

let single: string | null = null;
/** The reference: one process with the global batch (4). */
function singleRun(): string {
  if (single) return single;
  const run = join(mkdtempSync(join(tmpdir(), 'eflip-ddp-1-')), 'run');
  const r = eflip(['train', '--config', cfg, ...exact(tinyCorpus(), run), 'train.batch_size=4']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  single = run;
  return run;
}

function assertSameTrajectory(run: string, ref: string, what: string): void {
  const s1 = records(ref, 'step'),
    s2 = records(run, 'step');
  assert.equal(s2.length, 4, `${what}: 4 optimizer steps`);
  assert.equal(s1.length, s2.length);
  for (let i = 0; i < s1.length; i++) {
    const [a, b] = [s1[i], s2[i]];
    assert.equal(a.step, b.step);
    // the global batch's loss (all-reduced), and the norm of the averaged gradient: a summed
    // gradient would be twice as long
    assert.ok(
      Math.abs((a.loss as number) - (b.loss as number)) <= 1e-5 * Math.abs(a.loss as number),
      `${what} step ${a.step}: loss ${a.loss} vs ${b.loss}`,
    );
    assert.ok(
      Math.abs((a.grad_norm as number) - (b.grad_norm as number)) <= 1e-5 * (a.grad_norm as number),
      `${what} step ${a.step}: gradient norm ${a.grad_norm} vs ${b.grad_norm}`,
    );
  }
  // validation metrics summed over the ranks' halves of the val split equal one process's
  const e1 = records(ref, 'epoch'),
    e2 = records(run, 'epoch');
  assert.equal(e1.length, 2);
  for (let i = 0; i < e1.length; i++) {
    assert.ok(
      Math.abs((e1[i].val_loss as number) - (e2[i].val_loss as number)) <=
        1e-4 * (e1[i].val_loss as number),
      `${what} epoch ${i}: val_loss ${e1[i].val_loss} vs ${e2[i].val_loss}`,
    );
    assert.equal(e1[i].val_acc, e2[i].val_acc);
  }
  const d = paramDiff(join(ref, 'checkpoints', 'last.ckpt'), join(run, 'checkpoints', 'last.ckpt'));
  assert.ok(
    d.worst <= 1e-5 && d.global <= 1e-5,
    `${what}: parameters differ from the 1-process run by ${d.worst.toExponential(2)} (${d.name}), ${d.global.toExponential(2)} overall`,
  );
}

test('2 processes × batch 2 (gloo, sync BN) take the same steps as 1 process × batch 4: averaged gradients, exact metrics', () => {
  const ref = singleRun();
  const run = join(mkdtempSync(join(tmpdir(), 'eflip-ddp-2-')), 'run');
  const r = eflip([
    'train',
    '--nproc-per-node',
    '2',
    '--config',
    cfg,
    ...exact(tinyCorpus(), run),
    'train.batch_size=2',
    'train.sync_bn=true',
  ]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(
    r.stdout,
    /data-parallel: 2 processes .* global batch 4 = 2 × train\.batch_size=2, SyncBatchNorm/,
  );
  assert.match(r.stdout, /sync_bn: \d+ batch-norm layers/);
  // rank 0 alone prints and writes
  assert.equal((r.stdout.match(/^run directory:/gm) ?? []).length, 1);
  assertSameTrajectory(run, ref, '2 processes');
  const ck = readCheckpoint(join(run, 'checkpoints', 'last.ckpt'));
  assert.deepEqual(ck.state.world, { size: 2, globalBatch: 4 });
});

test('two machines: two launchers with --nnodes 2 on 127.0.0.1 train like one process with the global batch', async () => {
  const ref = singleRun();
  const run = join(mkdtempSync(join(tmpdir(), 'eflip-ddp-nodes-')), 'run');
  const port = await freePort();
  const node = (k: number) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        [
          bin,
          'train',
          '--nproc-per-node',
          '1',
          '--nnodes',
          '2',
          '--node-rank',
          String(k),
          '--master-addr',
          '127.0.0.1',
          '--master-port',
          String(port),
          '--config',
          cfg,
          ...exact(tinyCorpus(), run),
          'train.batch_size=2',
          'train.sync_bn=true',
          'train.dist_timeout=60',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '',
        err = '';
      c.stdout.on('data', (d) => {
        out += d;
      });
      c.stderr.on('data', (d) => {
        err += d;
      });
      c.on('exit', (code) => resolve({ code, out, err }));
    });
  const [n0, n1] = await Promise.all([node(0), node(1)]);
  assert.equal(n0.code, 0, n0.err);
  assert.equal(n1.code, 0, n1.err);
  assert.match(n0.out, /data-parallel: 2 processes/);
  assert.equal(n1.out.trim(), '', 'the second machine (rank 1) prints nothing');
  assertSameTrajectory(run, ref, 'two launchers');
});

/** pids of a launcher's workers by RANK (from their environment). */
function workers(launcher: number): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[] = [];
  try {
    pids = execFileSync('pgrep', ['-P', String(launcher)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    /* none yet */
  }
  for (const p of pids) {
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      const rank = env.find((e) => e.startsWith('RANK='));
      if (rank) out.set(Number(rank.slice(5)), Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function killMidEpoch(nproc: number): Promise<void> {
  const root = tinyCorpus();
  const run = join(mkdtempSync(join(tmpdir(), `eflip-ddp-kill${nproc}-`)), 'run');
  const batch = 2 / nproc; // global batch 2 either way: 4 steps per epoch
  const args = [
    'train',
    '--nproc-per-node',
    String(nproc),
    '--config',
    cfg,
    ...tinyOverrides(root, run),
    'train.epochs=200',
    `train.batch_size=${batch}`,
    'train.dist_timeout=30',
    'data.workers=0',
  ];
  const c = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr.on('data', (d) => {
    err += d;
  });
  c.stdout.resume();
  const exited = new Promise<{ code: number | null; at: number }>((r) =>
    c.on('exit', (code) => r({ code, at: Date.now() })),
  );
  // wait for the first epoch's checkpoint, then for a step inside a later epoch
  const last = join(run, 'checkpoints', 'last.ckpt');
  const t0 = Date.now();
  let w = new Map<number, number>();
  for (;;) {
    assert.ok(Date.now() - t0 < 60_000, `no checkpoint after 60 s: ${err}`);
    if (existsSync(last)) {
      const steps = records(run, 'step');
      if (
        steps.length &&
        steps[steps.length - 1].step % 4 !== 0 &&
        steps[steps.length - 1].step > 4
      )
        break;
    }
    await sleep(20);
  }
  w = workers(c.pid!);
  assert.equal(w.size, nproc, `found ${w.size} workers`);
  const victim = nproc - 1;
  const killedAt = Date.now();
  process.kill(w.get(victim)!, 'SIGKILL');
  const ex = await exited;
  // every process gone, the launcher non-zero, naming the rank, within 60 s
  assert.notEqual(ex.code, 0);
  assert.ok(ex.at - killedAt < 60_000, `launcher took ${ex.at - killedAt} ms`);
  for (const pid of w.values()) assert.ok(!alive(pid), `worker ${pid} still running`);
  assert.match(
    err,
    new RegExp(
      `rank ${victim} of ${nproc} \\(local rank ${victim} on node 0, pid ${w.get(victim)}\\) was killed by SIGKILL`,
    ),
  );
  if (nproc > 1) assert.match(err, /rank 0 (exited with code [1-9]|stopped)/);
  // the last checkpoint is intact and the job resumes from it (any world size: here 2 → 2, 1 → 1)
  const ck = readCheckpoint(last);
  assert.ok(ck.state.step >= 4);
  const r = eflip([
    'train',
    '--nproc-per-node',
    String(nproc),
    `checkpoint=${run}`,
    `train.max_steps=${ck.state.step + 3}`,
  ]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(
    r.stdout,
    new RegExp(
      `resuming from .*last\\.ckpt \\(epoch ${ck.state.epoch + 1}, batch ${ck.state.batchInEpoch}, step ${ck.state.step}\\)`,
    ),
  );
  assert.equal(readCheckpoint(last).state.step, ck.state.step + 3);
}

test('kill -9 of one of 2 workers mid-epoch: every process exits non-zero within 60 s naming the rank; the job resumes from the intact checkpoint', async () => {
  await killMidEpoch(2);
});

test('kill -9 of the only worker mid-epoch: the launcher exits non-zero naming rank 0; the job resumes', async () => {
  await killMidEpoch(1);
});

test('Ctrl-C to the launcher: the 2 ranks agree on a step, rank 0 writes one resumable checkpoint, all exit 130', async () => {
  const root = tinyCorpus();
  const run = join(mkdtempSync(join(tmpdir(), 'eflip-ddp-int-')), 'run');
  const c = spawn(
    process.execPath,
    [
      bin,
      'train',
      '--nproc-per-node',
      '2',
      '--config',
      cfg,
      ...tinyOverrides(root, run),
      'train.epochs=200',
      'train.batch_size=1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '',
    err = '';
  c.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
  await new Promise<void>((res) =>
    c.stdout.on('data', (d) => {
      out += d;
      if (/epoch 2\/200 1\//.test(out)) res();
    }),
  );
  const w = workers(c.pid!);
  c.kill('SIGINT');
  assert.equal(await exited, 130, err);
  for (const pid of w.values()) assert.ok(!alive(pid), `worker ${pid} still running`);
  assert.equal(
    (err.match(/resume with: eflip train checkpoint=.*last\.ckpt/g) ?? []).length,
    1,
    err,
  );
  const ck = readCheckpoint(join(run, 'checkpoints', 'last.ckpt'));
  assert.equal(ck.state.reason, 'interrupted');
  assert.ok(ck.state.step >= 5, `step ${ck.state.step}`);
});

test('a checkpoint written by 2 processes resumes in 1 process with the same global batch; train.precision=auto resolves once for both ranks and the resume keeps it', async () => {
  const root = tinyCorpus();
  const run = join(mkdtempSync(join(tmpdir(), 'eflip-ddp-w21-')), 'run');
  const a = eflip([
    'train',
    '--nproc-per-node',
    '2',
    '--config',
    cfg,
    ...tinyOverrides(root, run),
    'train.batch_size=1',
    'train.max_steps=5',
    'train.precision=auto',
  ]);
  assert.equal(a.status, 0, a.stderr + a.stdout);
  const want = cpuNativeBf16() ? 'bf16' : 'fp32';
  // one line, from rank 0 (the launcher may prefix it)
  assert.equal(
    (a.stdout + a.stderr).split(`train.precision=auto → ${want} (`).length - 1,
    1,
    a.stdout + a.stderr,
  );
  const b = eflip(['train', `checkpoint=${run}`, 'train.batch_size=2', 'train.max_steps=7']);
  assert.equal(b.status, 0, b.stderr + b.stdout);
  assert.match(
    b.stdout,
    /written by 2 processes, resuming on 1 with the same global batch of 2 clips/,
  );
  assert.doesNotMatch(b.stdout, /train\.precision=auto/, 'the checkpoint holds the resolved value');
  const last = readCheckpoint(join(run, 'checkpoints', 'last.ckpt'));
  assert.deepEqual(last.state.world, { size: 1, globalBatch: 2 });
  assert.equal(last.trainConfig.train.precision, want);
});

test('eflip bench train --nproc-per-node 2 --json reports the data-parallel rate beside the 1-process one', () => {
  const r = eflip([
    'bench',
    'train',
    '--nproc-per-node',
    '2',
    '--json',
    '--batch',
    '1',
    '--size',
    '32',
    '--frames',
    '4',
    '--steps',
    '1',
    '--warmup',
    '1',
    '--rounds',
    '1',
    '--classes',
    '10',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.single.processes, 1);
  assert.equal(j.data_parallel.processes, 2);
  assert.equal(j.threads_per_process, 1);
  for (const k of ['single', 'data_parallel']) assert.ok(j[k].clips_per_s > 0, k);
  assert.ok(
    Math.abs(j.scaling_efficiency - j.data_parallel.clips_per_s / (2 * j.single.clips_per_s)) <
      1e-9,
  );
  // GradSync's buckets are all-reduced while backward runs
  assert.ok(
    j.data_parallel.buckets >= 1 && j.data_parallel.buckets_started_during_backward >= 1,
    JSON.stringify(j.data_parallel),
  );
});
