import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsLog } from '../src/train/metrics_log.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { tinyCorpus, tinyOverrides, eflip, configs } from './train_helpers.js';

const stepLosses = (runDir: string) =>
  new Map(
    MetricsLog.read(join(runDir, 'metrics.jsonl'))
      .filter((r) => r.kind === 'step')
      .map((r) => [r.step, r.loss as number]),
  );

test('resume from a mid-epoch checkpoint gives the same next-step losses as an uninterrupted run', () => {
  const root = tinyCorpus();
  const tmp = mkdtempSync(join(tmpdir(), 'eflip-resume-'));
  const cfg = join(configs, 'synth.yaml');
  // A: 2 epochs × 4 steps (8 train clips, batch 2), uninterrupted
  const a = eflip([
    'train',
    '--config',
    cfg,
    ...tinyOverrides(root, join(tmp, 'A')),
    'train.epochs=2',
  ]);
  assert.equal(a.status, 0, a.stderr + a.stdout);
  // B: same run stopped after 5 steps (mid-epoch 2), then C: resumed from B's last.ckpt
  const b = eflip([
    'train',
    '--config',
    cfg,
    ...tinyOverrides(root, join(tmp, 'B')),
    'train.epochs=2',
    'train.max_steps=5',
  ]);
  assert.equal(b.status, 0, b.stderr + b.stdout);
  const last = join(tmp, 'B', 'checkpoints', 'last.ckpt');
  const ck = readCheckpoint(last);
  assert.equal(ck.state.step, 5);
  assert.equal(ck.state.batchInEpoch, 1);
  assert.ok(ck.ema && ck.optim.size > 0, 'EMA and optimizer state saved');
  // a crash after the checkpoint: B logged steps 6 and 7 (and half a line) that the checkpoint
  // does not cover; the resumed run must not log them twice
  const metricsB = join(tmp, 'B', 'metrics.jsonl');
  const stepOf = (s: number) =>
    JSON.stringify({ time: 0, kind: 'step', step: s, epoch: 1, loss: 99, acc: 0, lr: 1e-3 });
  appendFileSync(metricsB, `${stepOf(6)}\n${stepOf(7)}\n{"time":0,"kind":"st`);
  const c = eflip(['train', `checkpoint=${last}`, 'train.max_steps=null']);
  assert.equal(c.status, 0, c.stderr + c.stdout);
  assert.match(c.stdout, /resuming from .*last\.ckpt \(epoch 2, batch 1, step 5\)/);
  const la = stepLosses(join(tmp, 'A'));
  const lc = stepLosses(join(tmp, 'B')); // B's run dir holds B's and then C's records
  assert.equal(la.size, 8);
  assert.match(c.stdout, /metrics\.jsonl: dropped 2 record\(s\) written after the checkpoint/);
  const recs = MetricsLog.read(metricsB);
  const steps = recs.filter((r) => r.kind === 'step').map((r) => r.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8], 'every step once, in order');
  const epochs = recs.filter((r) => r.kind === 'epoch').map((r) => r.epoch);
  assert.deepEqual(epochs, [0, 1], 'every epoch once');
  assert.ok(
    readFileSync(metricsB, 'utf8')
      .split('\n')
      .every((l) => l === '' || JSON.parse(l)),
    'no torn line left',
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
  // resolved config saved in the run dir and in every checkpoint
  assert.match(readFileSync(join(tmp, 'A', 'config.yaml'), 'utf8'), /batch_size: 2/);
  assert.equal(
    readCheckpoint(join(tmp, 'A', 'checkpoints', 'last.ckpt')).trainConfig.train.batch_size,
    2,
  );
  assert.ok(existsSync(join(tmp, 'A', 'report.html')));
  assert.ok(existsSync(join(tmp, 'A', 'loss.png')));
  // the vocabulary is the checkpoint's: a resume that names other words is refused, not recorded
  const metricsBefore = readFileSync(metricsB, 'utf8');
  const d = eflip(['train', `checkpoint=${last}`, 'data.words=1']);
  assert.notEqual(d.status, 0);
  assert.match(d.stderr, /data\.words cannot change when resuming .*pretrained_model_path=/);
  assert.equal(readFileSync(metricsB, 'utf8'), metricsBefore, 'the run is untouched');
});
