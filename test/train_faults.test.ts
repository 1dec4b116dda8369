import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { full, randn, tidy } from '../src/engine/index.js';
import { loadConfig } from '../src/train/config.js';
import { modelConfigFor } from '../src/train/model_config.js';
import { asTrainable } from '../src/train/model_io.js';
import { createModel } from '../src/model/weights.js';
import { Trainer, NonFiniteLossError } from '../src/train/trainer.js';
import type { BatchSource, TrainBatch } from '../src/train/batch_source.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { bin, configs, tinyCorpus, tinyOverrides } from './train_helpers.js';

function source(make: (i: number) => TrainBatch, n: number): BatchSource {
  return {
    batchesPerEpoch: n,
    clips: n * 2,
    async *batches(_epoch: number, skip: number) {
      for (let i = skip; i < n; i++) yield make(i);
    },
  };
}

test('NaN loss stops with a clear message before the update; weights and last checkpoint intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-nan-'));
  const cfg = loadConfig({
    file: join(configs, 'synth.yaml'),
    overrides: [
      'data.size=16',
      'data.frames=4',
      'model.feature_dim=16',
      'model.tcn_channels=16',
      'model.transformer_heads=2',
      'train.epochs=1',
    ],
  });
  const mcfg = modelConfigFor(cfg, 3);
  const net = createModel(mcfg, { seed: 1 });
  const good = (i: number): TrainBatch => ({
    x: randn([2, 1, 4, 16, 16]),
    y: [i % 3, (i + 1) % 3],
  });
  const bad = (i: number): TrainBatch =>
    i < 2 ? good(i) : { x: full([2, 1, 4, 16, 16], NaN), y: [0, 1] };
  const trainer = new Trainer({
    config: cfg,
    labels: ['a', 'b', 'c'],
    model: asTrainable(net),
    modelConfig: mcfg as any,
    preprocessing: { crop: 'mouth', size: 16, mean: 0, std: 1 },
    train: source(bad, 4),
    runDir: dir,
    checkpointDir: dir,
    log: () => {},
    stream: { write: () => true, isTTY: false } as any,
  });
  // two good steps, then a checkpoint, then the NaN batch
  const ckPath = join(dir, 'last.ckpt');
  let stepsSeen = 0;
  trainer.callbacks.push({
    name: 'saver',
    onTrainBatchEnd: (t) => {
      if (++stepsSeen === 2) t.saveCheckpoint(ckPath);
    },
  });
  await assert.rejects(
    trainer.fit(),
    (e: Error) =>
      e instanceof NonFiniteLossError &&
      /loss is NaN at step 2 \(epoch 1, batch 3/.test(e.message) &&
      /intact/.test(e.message),
  );
  const before = readFileSync(ckPath);
  const ck = readCheckpoint(ckPath);
  assert.equal(ck.state.step, 2);
  // the parameters still hold the step-2 weights (no NaN update happened)
  for (const [k, t] of net.namedParameters()) {
    const r = ck.model.get(k)!;
    const same = tidy(() => t.detach().float().contiguous().toBytes());
    assert.ok(
      Buffer.from(same).equals(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)) ||
        r.dtype !== 'float32',
      `${k} unchanged`,
    );
  }
  assert.ok(readFileSync(ckPath).equals(before));
  // an allocation failure becomes an actionable message
  const oom = (trainer as any).wrapOom(
    new Error(
      "[enforce fail at alloc_cpu.cpp:75] DefaultCPUAllocator: can't allocate memory: you tried to allocate 9663676416 bytes",
    ),
  );
  assert.equal(oom.name, 'OutOfMemoryError');
  assert.match(oom.message, /Lower train\.batch_size \(e\.g\. batch_size=8\)/);
  assert.match(oom.message, /last checkpoint is intact/);
  net.dispose();
});

test('SIGINT saves a resumable checkpoint and exits 130', async () => {
  const root = tinyCorpus();
  const run = mkdtempSync(join(tmpdir(), 'eflip-sigint-'));
  const child = spawn(
    process.execPath,
    [
      bin,
      'train',
      '--config',
      join(configs, 'synth.yaml'),
      ...tinyOverrides(root, run),
      'train.epochs=50',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '',
    err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  await new Promise<void>((res) =>
    child.stdout.on('data', (d) => {
      out += d;
      if (/epoch 2\/50 1\//.test(out)) res();
    }),
  );
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.match(err, /resume with: eflip train checkpoint=.*last\.ckpt/);
  const ck = readCheckpoint(join(run, 'checkpoints', 'last.ckpt'));
  assert.equal(ck.state.reason, 'interrupted');
  assert.ok(ck.state.step >= 5, `step ${ck.state.step}`);
});
