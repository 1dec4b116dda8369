import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readCheckpoint,
  writeCheckpoint,
  type CheckpointContent,
} from '../src/train/checkpoint.js';
import { defaultConfig } from '../src/train/config.js';
import { float32Raw, numel, rawToFloat32, type RawTensor } from '../src/io/safetensors.js';
import { stateShapes } from '../src/model/state_shapes.js';
import { modelConfig } from '../src/model/config.js';
import { EarlyStopping, ModelCheckpoint, type TrainerHandle } from '../src/train/callbacks.js';

const ckptModule = new URL('../src/train/checkpoint.js', import.meta.url).href;
const shapesModule = new URL('../src/model/state_shapes.js', import.meta.url).href;
const configModule = new URL('../src/model/config.js', import.meta.url).href;

/** A tiny network's state (zeros) that matches TINY: readCheckpoint checks config against tensors. */
const TINY = {
  stages: ['1,3,1,8,8,1 F'],
  featureDim: 8,
  transformer: { layers: 0, heads: 1 },
  tcn: { layers: 1, width: 8 },
  classes: 2,
};
function tinyState(): Map<string, RawTensor> {
  const m = new Map<string, RawTensor>();
  for (const e of stateShapes(modelConfig(TINY)))
    m.set(
      e.name,
      e.kind === 'float'
        ? float32Raw(new Float32Array(numel(e.shape)), e.shape)
        : { dtype: 'int64', shape: e.shape, data: new Uint8Array(8) },
    );
  return m;
}

function content(fill: number, n: number): CheckpointContent {
  const vals = new Float32Array(n).fill(fill);
  return {
    model: tinyState(),
    ema: tinyState(),
    optim: new Map([['w', float32Raw(vals, [n])]]),
    modelConfig: TINY,
    labels: ['a', 'b'],
    preprocessing: { crop: 'mouth', size: 88, mean: 0.421, std: 0.165 },
    trainConfig: defaultConfig(),
    state: {
      version: 1,
      epoch: fill,
      batchInEpoch: 0,
      step: fill,
      epochDone: true,
      optimizer: { step: 0, lr: 0, betas: [0.9, 0.98], eps: 1e-8, weightDecay: 0, noDecay: [] },
      scheduler: { step: 0, spec: { lr: 1e-3, totalSteps: 40, warmupSteps: 0 } },
      ema: null,
      callbacks: { es: { best: Infinity } },
      rng: { seed: 1, scheme: 'x' },
    },
  };
}

test('checkpoint round trip keeps tensors, config, labels and ±Infinity in state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-ck-'));
  const p = join(dir, 'a.ckpt');
  writeCheckpoint(p, content(3, 10));
  const c = readCheckpoint(p);
  assert.equal(c.state.epoch, 3);
  assert.equal((c.state.callbacks.es as any).best, 'Infinity');
  assert.deepEqual(c.labels, ['a', 'b']);
  assert.deepEqual(c.trainConfig, defaultConfig());
  assert.equal(c.optim.get('w')!.data.byteLength, 40);
  assert.ok(c.ema);
});

test('kill -9 while saving never corrupts the previous checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-kill-'));
  const p = join(dir, 'last.ckpt');
  writeCheckpoint(p, content(1, 16));
  // a child rewrites the same path with ~64 MB checkpoints in a loop; we kill it mid-write
  const script = `
    import { writeCheckpoint } from ${JSON.stringify(ckptModule)};
    import { defaultConfig } from ${JSON.stringify(new URL('../src/train/config.js', import.meta.url).href)};
    import { float32Raw, numel } from ${JSON.stringify(new URL('../src/io/safetensors.js', import.meta.url).href)};
    import { stateShapes } from ${JSON.stringify(shapesModule)};
    import { modelConfig } from ${JSON.stringify(configModule)};
    const TINY = ${JSON.stringify(TINY)};
    const model = new Map([...stateShapes(modelConfig(TINY))].map((e) => [e.name, e.kind === 'float' ? float32Raw(new Float32Array(numel(e.shape)), e.shape) : { dtype: 'int64', shape: e.shape, data: new Uint8Array(8) }]));
    const n = 16 * 1024 * 1024;
    const mk = (f) => ({ model, ema: null, optim: new Map([['w', float32Raw(new Float32Array(n).fill(f), [n])]]),
      modelConfig: TINY, labels: ['a', 'b'], preprocessing: { crop: 'mouth', size: 88, mean: 0, std: 1 }, trainConfig: defaultConfig(),
      state: { version: 1, epoch: f, batchInEpoch: 0, step: f, epochDone: true, optimizer: { step: 0, lr: 0, betas: [0.9, 0.98], eps: 1e-8, weightDecay: 0, noDecay: [] },
        scheduler: { step: 0, spec: { lr: 1e-3, totalSteps: 40, warmupSteps: 0 } }, ema: null, callbacks: {}, rng: { seed: 1, scheme: 'x' } } });
    process.stdout.write('ready\\n');
    for (let i = 2; ; i++) writeCheckpoint(${JSON.stringify(p)}, mk(i));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  // wait until one big checkpoint has replaced the first, then until the next write is in
  // flight (its temp file exists), then SIGKILL
  const t0 = Date.now();
  const until = async (cond: () => boolean) => {
    while (!cond() && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 2));
  };
  await until(() => statSync(p).size > 1e6);
  await until(() => readdirSync(dir).some((f) => f.includes('.tmp-')));
  await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const c = readCheckpoint(p); // must parse: either the old one or a complete newer one
  const w = rawToFloat32(c.optim.get('w')!);
  assert.ok(c.state.epoch >= 2, 'a completed big checkpoint');
  assert.ok(
    w.every((v) => v === c.state.epoch),
    'tensor data match the state of the same write',
  );
  assert.ok(
    readdirSync(dir).some((f) => f.includes('.tmp-')),
    'the kill hit a write in flight',
  );
  // the next checkpoint write in that directory removes the dead writer's temp file
  writeCheckpoint(p, content(9, 16));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp-')),
    [],
    'stale temp of the killed writer removed',
  );
  assert.equal(readCheckpoint(p).state.epoch, 9);
});

test('EarlyStopping and ModelCheckpoint keep state and rank top-k', () => {
  const saved: string[] = [];
  const t: TrainerHandle = {
    epoch: 0,
    step: 0,
    shouldStop: false,
    saveCheckpoint: (p) => saved.push(p),
    log: () => {},
  };
  const es = new EarlyStopping({ monitor: 'val_loss', mode: 'min', minDelta: 0.01, patience: 2 });
  const mc = new ModelCheckpoint({
    dir: '/nonexistent',
    monitor: 'val_acc',
    mode: 'max',
    topK: 2,
    saveLast: true,
  });
  const seq = [
    [1.0, 0.5],
    [0.995, 0.7],
    [0.99, 0.6],
    [0.8, 0.4],
  ];
  for (const [i, [loss, acc]] of seq.entries()) {
    t.epoch = i;
    t.step = (i + 1) * 10;
    es.onValidationEpochEnd(t, { val_loss: loss, val_acc: acc });
    mc.onValidationEpochEnd(t, { val_loss: loss, val_acc: acc });
    if (i === 2) {
      assert.equal(t.shouldStop, true); // 0.995 and 0.99 do not beat 1.0 by 0.01
      assert.match(t.stopReason!, /val_loss did not improve/);
      t.shouldStop = false;
    }
  }
  assert.deepEqual(
    mc.best.map((b) => b.score),
    [0.7, 0.6],
  );
  assert.ok(saved.filter((s) => s.endsWith('last.ckpt')).length === 4);
  assert.ok(saved.some((s) => /epoch=1-step=20-val_acc=0\.7000\.ckpt$/.test(s)));
  const es2 = new EarlyStopping({ monitor: 'val_loss', mode: 'min', minDelta: 0.01, patience: 2 });
  es2.loadStateDict(
    JSON.parse(
      JSON.stringify(es.stateDict(), (_, x) =>
        typeof x === 'number' && !Number.isFinite(x) ? String(x) : x,
      ),
    ),
  );
  assert.deepEqual(es2.stateDict(), es.stateDict());
});
