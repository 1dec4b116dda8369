// train.device / train.precision / train.channels_last (issue #12, device half), as far as a
// CPU build allows: the device plumbing (batches one ahead, labels on the device, results back
// to the host) runs on 'cpu' through the same code path a GPU takes; CUDA on this build is
// refused at start in one line naming the fix, with nothing written; fp16's dynamic loss
// scaling (GradScaler semantics) is exercised on the CPU with injected inf gradients; the
// scaler state round-trips through checkpoints; the channels-last trunk gives the same loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cpuNativeBf16,
  cuda,
  F,
  fromTypedArray,
  full,
  manualSeed,
  noGrad,
  randn,
  tidy,
  type Tensor,
} from '../src/engine/index.js';
import { loadConfig } from '../src/train/config.js';
import { modelConfigFor } from '../src/train/model_config.js';
import { asTrainable } from '../src/train/model_io.js';
import { createModel } from '../src/model/weights.js';
import { Trainer, type TrainableModel } from '../src/train/trainer.js';
import type { BatchSource, TrainBatch } from '../src/train/batch_source.js';
import { GradScaler } from '../src/train/grad_scaler.js';
import {
  TrainDevice,
  TrainDeviceError,
  autoPrecisionLine,
  checkTrainDevice,
  feedBatches,
  resolvePrecision,
} from '../src/train/device_step.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { mixupHook } from '../src/train/data_source.js';
import type { LipReaderNet } from '../src/model/lipreader.js';
import { assertRefused, runEflip, snapshot, assertUnchanged } from './hostile_helpers.js';
import { configs, tinyCorpus, tinyOverrides } from './train_helpers.js';

const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
const noCuda = cuda.isAvailable()
  ? 'this build has a GPU: the refusal tests are for CPU builds'
  : false;

function tinyConfig(extra: string[] = []) {
  return loadConfig({
    file: join(configs, 'synth.yaml'),
    overrides: [
      'train.precision=fp32', // not auto: the same arithmetic on every machine
      'data.size=16',
      'data.frames=4',
      'model.feature_dim=16',
      'model.tcn_channels=16',
      'model.transformer_heads=2',
      'model.transformer_ffn=16',
      'model.dropout=0',
      'model.transformer_dropout=0',
      'model.tcn_dropout=0',
      'model.drop_path=0',
      'train.epochs=1',
      'ema.enabled=true',
      ...extra,
    ],
  });
}

function source(make: (i: number) => TrainBatch, n: number): BatchSource {
  return {
    batchesPerEpoch: n,
    clips: n * 2,
    async *batches(_epoch: number, skip: number) {
      for (let i = skip; i < n; i++) yield make(i);
    },
  };
}

function paramBytes(net: LipReaderNet): Map<string, Buffer> {
  return tidy(
    () =>
      new Map(
        [...net.namedParameters()].map(([k, t]) => [
          k,
          Buffer.from(t.detach().contiguous().toBytes()),
        ]),
      ),
  );
}

// ---------------------------------------------------------------- GradScaler semantics

test('GradScaler: scales the loss, unscales the gradients, finds inf/NaN, backs off ×0.5, grows ×2 after N good steps', () => {
  const s = new GradScaler({ initScale: 1024, growthInterval: 3 });
  tidy(() => {
    const loss = fromTypedArray(Float32Array.of(0.75), []);
    assert.equal(s.scaleLoss(loss).item(), 768);
    const g1 = fromTypedArray(Float32Array.of(1024, -2048));
    const g2 = fromTypedArray(Float32Array.of(512));
    assert.equal(s.unscale([g1, g2]), true);
    assert.deepEqual(Array.from(g1.toTypedArray() as Float32Array), [1, -2]);
    assert.deepEqual(Array.from(g2.toTypedArray() as Float32Array), [0.5]);
    assert.equal(s.unscale([fromTypedArray(Float32Array.of(1, Infinity))]), false);
    assert.equal(
      s.unscale([fromTypedArray(Float32Array.of(1)), fromTypedArray(Float32Array.of(NaN, 2))]),
      false,
    );
    assert.equal(s.unscale([]), true);
  });
  s.update(false);
  assert.equal(s.scale, 512);
  assert.equal(s.skipped, 1);
  s.update(true);
  s.update(true);
  assert.equal(s.scale, 512, 'no growth before growthInterval good steps');
  s.update(true);
  assert.equal(s.scale, 1024, 'growth after 3 good steps in a row');
  assert.equal(s.growthTracker, 0);
  s.update(true);
  s.update(true);
  s.update(false);
  assert.equal(s.scale, 512);
  assert.equal(s.growthTracker, 0, 'an overflow resets the good-step count');
  // never grows into inf; defaults are PyTorch's
  const big = new GradScaler({ initScale: 2 ** 127, growthInterval: 1 });
  big.update(true);
  assert.equal(big.scale, 2 ** 127);
  const d = new GradScaler();
  assert.deepEqual(
    [d.scale, d.growthFactor, d.backoffFactor, d.growthInterval],
    [65536, 2, 0.5, 2000],
  );
  // state round trip, and a broken state is refused
  const r = new GradScaler();
  r.loadStateDict(s.stateDict());
  assert.deepEqual(r.stateDict(), { ...s.stateDict(), growthInterval: 2000 });
  assert.throws(() => r.loadStateDict({ scale: -1 }), /invalid scale/);
  assert.throws(() => new GradScaler({ backoffFactor: 2 }), /backoffFactor/);
});

test('fp16 loss scaling in the trainer (CPU, injected inf gradients): the step is skipped, weights/moments/EMA untouched, scale halves; good steps grow it; the state resumes from the checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-scaler-'));
  const cfg = tinyConfig(['train.grad_clip=1.0']);
  const mcfg = modelConfigFor(cfg, 3);
  const net = createModel(mcfg, { seed: 1 }) as LipReaderNet;
  const base = asTrainable(net);
  // a poisoned step adds (w − w)·1e38 = 0 to class 0's output: the loss stays finite and exact,
  // but w's gradient is (scaled loss gradient of class 0)·1e38 = inf in float32 — an fp16-style overflow
  let poison = false;
  const probe = [...net.namedParameters()][0][1];
  const model: TrainableModel = {
    ...base,
    forward: (x) => {
      const out = base.forward(x);
      if (!poison) return out;
      const mask = fromTypedArray(Float32Array.of(1, 0, 0), [1, 3]);
      return out.add(mask.mul(probe.sub(probe.detach()).sum().mul(1e38)));
    },
  };
  manualSeed(5);
  const batches = Array.from({ length: 6 }, (_, i) => ({
    x: randn([2, 1, 4, 16, 16]),
    y: [i % 3, (i + 1) % 3],
  }));
  const make = (i: number): TrainBatch => ({ x: batches[i].x.clone(), y: batches[i].y });
  const scaler = new GradScaler({ initScale: 2 ** 16, growthInterval: 2 });
  const trainer = new Trainer({
    config: cfg,
    labels: ['a', 'b', 'c'],
    model,
    modelConfig: mcfg as never,
    preprocessing: { crop: 'mouth', size: 16, mean: 0, std: 1 },
    train: source(make, 6),
    runDir: dir,
    checkpointDir: dir,
    log: () => {},
    stream: quiet,
    device: new TrainDevice('cpu', 'fp32', { scaler }),
  });
  const r0 = trainer.trainStep(make(0));
  assert.equal(r0.skipped, false);
  assert.equal(trainer.optimizer.stepCount, 1);
  assert.equal(scaler.growthTracker, 1);
  const before = paramBytes(net);
  const emaBefore = tidy(() =>
    Buffer.from(trainer.ema!.shadow.get('fc_layer.weight')!.contiguous().toBytes()),
  );
  const momentBefore = tidy(() =>
    Buffer.from(
      trainer.optimizer.stateTensors().get('fc_layer.weight.exp_avg')!.contiguous().toBytes(),
    ),
  );
  poison = true;
  const r1 = trainer.trainStep(make(1));
  poison = false;
  assert.equal(r1.skipped, true, 'inf gradients skip the step');
  assert.ok(Number.isFinite(r1.loss), 'the loss itself is finite (no NonFiniteLossError)');
  assert.equal(scaler.scale, 2 ** 15, 'backoff ×0.5');
  assert.equal(scaler.growthTracker, 0);
  assert.equal(trainer.optimizer.stepCount, 1, 'no optimizer step taken');
  const after = paramBytes(net);
  for (const [k, b] of before)
    assert.ok(b.equals(after.get(k)!), `${k} unchanged by the skipped step`);
  assert.ok(
    emaBefore.equals(
      tidy(() => Buffer.from(trainer.ema!.shadow.get('fc_layer.weight')!.contiguous().toBytes())),
    ),
    'EMA not updated on a skipped step',
  );
  assert.ok(
    momentBefore.equals(
      tidy(() =>
        Buffer.from(
          trainer.optimizer.stateTensors().get('fc_layer.weight.exp_avg')!.contiguous().toBytes(),
        ),
      ),
    ),
  );
  for (const [, p] of net.namedParameters())
    assert.equal(p.grad, null, 'gradients cleared after a skipped step');
  // two good steps in a row: growth ×2 back to 2^16
  trainer.trainStep(make(2));
  assert.equal(scaler.scale, 2 ** 15);
  const r3 = trainer.trainStep(make(3));
  assert.equal(r3.skipped, false);
  assert.ok(Number.isFinite(r3.gradNorm), 'clipping sees the unscaled gradients');
  assert.ok(
    r3.gradNorm < 1e3,
    `unscaled gradient norm ${r3.gradNorm} (a scaled one would be ~2^16 larger)`,
  );
  assert.equal(scaler.scale, 2 ** 16);
  trainer.trainStep(make(4));
  assert.equal(scaler.growthTracker, 1);
  // the scale state travels in the checkpoint and comes back
  const ck = join(dir, 'scaler.ckpt');
  trainer.saveCheckpoint(ck);
  const state = readCheckpoint(ck).state;
  assert.deepEqual(
    { scale: state.gradScaler!.scale, growthTracker: state.gradScaler!.growthTracker },
    { scale: 2 ** 16, growthTracker: 1 },
  );
  const scaler2 = new GradScaler({ growthInterval: 2 });
  const t2 = new Trainer({
    config: cfg,
    labels: ['a', 'b', 'c'],
    model: asTrainable(createModel(mcfg, { seed: 9 })),
    modelConfig: mcfg as never,
    preprocessing: { crop: 'mouth', size: 16, mean: 0, std: 1 },
    train: source(make, 6),
    runDir: dir,
    checkpointDir: dir,
    log: () => {},
    stream: quiet,
    device: new TrainDevice('cpu', 'fp32', { scaler: scaler2 }),
  });
  t2.restore(readCheckpoint(ck));
  assert.deepEqual([scaler2.scale, scaler2.growthTracker], [2 ** 16, 1]);
  // one more good step on each: the same growth decision (×2 at the 2nd good step)
  trainer.trainStep(make(5));
  t2.trainStep(make(5));
  assert.equal(scaler2.scale, scaler.scale);
  assert.equal(scaler.scale, 2 ** 17);
  // without a scaler (fp32/bf16) the checkpoint says so
  const plain = new Trainer({
    config: cfg,
    labels: ['a', 'b', 'c'],
    model: asTrainable(createModel(mcfg, { seed: 2 })),
    modelConfig: mcfg as never,
    preprocessing: { crop: 'mouth', size: 16, mean: 0, std: 1 },
    train: source(make, 6),
    runDir: dir,
    checkpointDir: dir,
    log: () => {},
    stream: quiet,
  });
  assert.equal(plain.dev.scaler, null);
  assert.equal(plain.checkpointContent().state.gradScaler, null);
  for (const b of batches) b.x.dispose();
});

// ---------------------------------------------------------------- device plumbing on the CPU

test('device plumbing on cpu: canonical device, labels/weights on the device, bf16 autocast of the device kind, fp16 refused on the CPU', () => {
  const d = TrainDevice.fromConfig(tinyConfig(['train.precision=bf16']));
  assert.equal(d.device, 'cpu');
  assert.equal(d.kind, 'cpu');
  assert.equal(d.scaler, null);
  tidy(() => {
    const y = d.labels([2, 0, 1]);
    assert.equal(y.dtype, 'int64');
    assert.equal(y.device, 'cpu');
    assert.deepEqual(y.toArrayFlat(), [2, 0, 1]);
    assert.equal(d.floats([0.25, 0.5]).dtype, 'float32');
    // autocast follows the device: a matmul under bf16 CPU autocast comes out bfloat16
    const out = d.autocast(() => randn([2, 3]).matmul(randn([3, 2])));
    assert.equal(out.dtype, 'bfloat16');
    assert.equal(
      TrainDevice.fromConfig(tinyConfig()).autocast(() => randn([2, 3]).matmul(randn([3, 2])))
        .dtype,
      'float32',
    );
  });
  // the in-memory source's mixup builds its index on the batch's device
  tidy(() => {
    const m = mixupHook(0.4, 1)(
      { x: randn([3, 1, 2, 4, 4], { device: d.device }), y: [0, 1, 2] },
      0,
    );
    assert.equal(m.x.device, d.device);
    assert.deepEqual(Array.from(m.y2!), [2, 1, 0]);
    assert.ok(typeof m.lam === 'number' && m.lam > 0 && m.lam < 1);
  });
  assert.throws(
    () => checkTrainDevice(tinyConfig(['train.precision=fp16'])),
    (e: Error) =>
      e instanceof TrainDeviceError &&
      /^train\.precision=fp16 needs a CUDA device.*use train\.precision=bf16 or fp32/.test(
        e.message,
      ) &&
      !e.message.includes('\n'),
  );
  assert.throws(() => new TrainDevice('cpu', 'fp16'), TrainDeviceError);
});

test('train.precision=auto: bf16 on a CPU with native bfloat16, fp32 on one without and on CUDA; explicit values kept; the default is auto; a Trainer checkpoint records the resolved value', () => {
  assert.equal(resolvePrecision('auto', 'cpu', 'avx512_bf16'), 'bf16');
  assert.equal(resolvePrecision('auto', 'cpu', 'amx_bf16'), 'bf16');
  assert.equal(resolvePrecision('auto', 'cpu', null), 'fp32');
  assert.equal(resolvePrecision('auto', 'cuda:0', 'avx512_bf16'), 'fp32');
  for (const p of ['fp32', 'bf16', 'fp16'] as const) {
    assert.equal(resolvePrecision(p, 'cpu', 'avx512_bf16'), p);
    assert.equal(resolvePrecision(p, 'cpu', null), p);
  }
  assert.match(
    autoPrecisionLine('bf16', 'cpu', 'avx512_bf16'),
    /^train\.precision=auto → bf16 \(this CPU has native bfloat16 \(avx512_bf16\)/,
  );
  assert.match(autoPrecisionLine('fp32', 'cpu', null), /→ fp32 \(this CPU has no native bfloat16/);
  assert.match(autoPrecisionLine('fp32', 'cuda:0', null), /→ fp32 \(cuda:0: /);
  // this machine: the flag read from /proc/cpuinfo decides, and the default config is auto
  const native = cpuNativeBf16();
  assert.ok(native === null || ['amx_bf16', 'avx512_bf16'].includes(native), String(native));
  assert.equal(loadConfig({}).train.precision, 'auto');
  const d = TrainDevice.fromConfig(tinyConfig(['train.precision=auto']));
  assert.equal(d.precision, native ? 'bf16' : 'fp32');
  // a Trainer given train.precision=auto (the API, no run.ts) records the precision it ran in
  const cfg = tinyConfig(['train.precision=auto']);
  const mcfg = modelConfigFor(cfg, 3);
  const dir = mkdtempSync(join(tmpdir(), 'eflip-auto-'));
  const trainer = new Trainer({
    config: cfg,
    labels: ['a', 'b', 'c'],
    model: asTrainable(createModel(mcfg, { seed: 1 })),
    modelConfig: mcfg as never,
    preprocessing: { crop: 'mouth', size: 16, mean: 0, std: 1 },
    train: source(() => ({ x: randn([2, 1, 4, 16, 16]), y: [0, 1] }), 1),
    runDir: dir,
    checkpointDir: dir,
    log: () => {},
    stream: quiet,
  });
  trainer.saveCheckpoint(join(dir, 'auto.ckpt'));
  assert.equal(readCheckpoint(join(dir, 'auto.ckpt')).trainConfig.train.precision, d.precision);
  assert.equal(cfg.train.precision, 'auto', "the caller's config is not changed");
  tidy(() =>
    assert.equal(
      d.autocast(() => randn([2, 3]).matmul(randn([3, 2]))).dtype,
      native ? 'bfloat16' : 'float32',
    ),
  );
});

test('feedBatches: each batch is fetched (and its copy started) one ahead of its use, in order; stopping early frees the batch in flight and closes the source', async () => {
  const events: string[] = [];
  let closed = false;
  const made: Tensor[] = [];
  async function* src(): AsyncGenerator<TrainBatch> {
    try {
      for (let i = 0; i < 5; i++) {
        events.push(`fetch ${i}`);
        const x = full([1, 1, 1, 2, 2], i);
        made.push(x);
        yield { x, y: [i] };
      }
    } finally {
      closed = true;
    }
  }
  const got: number[] = [];
  for await (const b of feedBatches(src(), 'cpu')) {
    events.push(`use ${b.y[0]}`);
    got.push(b.x.toArrayFlat()[0]);
    b.x.dispose();
    if (b.y[0] === 2) break;
  }
  assert.deepEqual(got, [0, 1, 2]);
  assert.deepEqual(events, ['fetch 0', 'fetch 1', 'use 0', 'fetch 2', 'use 1', 'fetch 3', 'use 2']);
  assert.ok(closed, 'source closed');
  assert.ok(made[3].isDisposed, 'the prefetched batch 3 was freed');
  assert.equal(made.length, 4);
  // a CUDA target on this build: the copy is refused with the fix, not silently done on the CPU
  if (!cuda.isAvailable()) {
    const it = feedBatches(src(), 'cuda:0');
    await assert.rejects(it.next(), /CUDA is not available.*build-native/);
  }
});

test('evaluation and training go through the device path on cpu: the same metrics as a direct forward', async () => {
  const cfg = tinyConfig();
  const mcfg = modelConfigFor(cfg, 3);
  const net = createModel(mcfg, { seed: 3 }) as LipReaderNet;
  net.eval();
  manualSeed(2);
  const xs = Array.from({ length: 3 }, () => randn([2, 1, 4, 16, 16]));
  const direct = tidy(() =>
    xs.map((x) =>
      noGrad(() => F.nllLoss(net.forward(x), fromTypedArray(BigInt64Array.of(0n, 1n), [2])).item()),
    ),
  );
  const { evaluateSource } = await import('../src/train/evaluate.js');
  const m = await evaluateSource(
    (x) => net.forward(x),
    source((i) => ({ x: xs[i].clone(), y: [0, 1] }), 3),
    ['a', 'b', 'c'],
    { quiet: true, device: 'cpu' },
  );
  assert.equal(m.samples, 6);
  assert.ok(
    Math.abs(m.loss - direct.reduce((a, b) => a + b, 0) / 3) < 1e-5,
    `${m.loss} vs ${direct}`,
  );
  for (const x of xs) x.dispose();
  net.dispose();
});

test(
  'native side-stream copies on a build without CUDA: typed errors, never a crash; the process keeps working',
  { skip: noCuda },
  async () => {
    const E = await import('../src/engine/index.js');
    const { native } = await import('../src/engine/native.js');
    const t = full([2, 2], 3);
    assert.throws(
      () => cuda.copyAsync(t, 'cuda:0'),
      (e: Error) => e instanceof E.EngineError && /cuda/i.test(e.message),
    );
    assert.throws(
      () => cuda.copyAsync(t, 'cpu'),
      (e: Error) => e instanceof E.EngineError && /accelerator device/.test(e.message),
    );
    assert.throws(
      () => native.waitCopy!(12345),
      (e: Error) => e instanceof E.EngineError && /unknown or already awaited copy/.test(e.message),
    );
    assert.equal(t.isPinned(), false);
    assert.deepEqual(
      tidy(() => t.add(1).toArrayFlat()),
      [4, 4, 4, 4],
    );
    t.dispose();
  },
);

// ---------------------------------------------------------------- channels-last

test('train.channels_last: same loss and gradients as the contiguous trunk; weights NHWC inside, state dict unchanged outside', () => {
  const cfg = tinyConfig();
  const mcfg = modelConfigFor(cfg, 3);
  const a = createModel(mcfg, { seed: 7 }) as LipReaderNet;
  const b = createModel(mcfg, { seed: 7 }) as LipReaderNet;
  b.useChannelsLast(true);
  const conv = [...b.namedParameters()].find(([k, t]) => k.includes('efnet') && t.ndim === 4)!;
  assert.ok(conv[1].isContiguous('channelsLast') && !conv[1].isContiguous(), `${conv[0]} is NHWC`);
  // the state dict (what checkpoints store) is the same bytes either way
  const sa = tidy(() =>
    [...a.stateDict()].map(([k, t]) => [
      k,
      Buffer.from(t.contiguous().toBytes()).toString('base64'),
    ]),
  );
  const sb = tidy(() =>
    [...b.stateDict()].map(([k, t]) => [
      k,
      Buffer.from(t.contiguous().toBytes()).toString('base64'),
    ]),
  );
  assert.deepEqual(sa, sb);
  a.train(true);
  b.train(true);
  manualSeed(11);
  const x = randn([2, 1, 4, 16, 16]);
  const y = fromTypedArray(BigInt64Array.of(1n, 2n), [2]);
  const lossOf = (n: LipReaderNet) =>
    tidy(() => {
      manualSeed(1);
      const l = F.nllLoss(n.forward(x), y);
      l.backward();
      return l.item();
    });
  const la = lossOf(a),
    lb = lossOf(b);
  assert.ok(Math.abs(la - lb) <= 1e-5 * Math.max(1, Math.abs(la)), `loss ${la} vs ${lb}`);
  const ga = new Map(
    [...a.namedParameters()].map(([k, p]) => [
      k,
      tidy(() => p.grad!.contiguous().toTypedArray() as Float32Array),
    ]),
  );
  let worst = 0,
    scale = 0;
  for (const [k, p] of b.namedParameters()) {
    const gb = tidy(() => p.grad!.contiguous().toTypedArray() as Float32Array);
    const g = ga.get(k)!;
    for (let i = 0; i < g.length; i++) {
      worst = Math.max(worst, Math.abs(g[i] - gb[i]));
      scale = Math.max(scale, Math.abs(g[i]));
    }
  }
  assert.ok(
    worst <= 1e-4 * Math.max(1, scale),
    `max gradient difference ${worst} (largest gradient ${scale})`,
  );
  // back to contiguous: the same layout as a fresh model
  b.useChannelsLast(false);
  assert.ok([...b.namedParameters()].find(([k]) => k === conv[0])![1].isContiguous());
  x.dispose();
  y.dispose();
  a.dispose();
  b.dispose();
});

// ---------------------------------------------------------------- refusals at start (CLI)

test(
  'eflip train train.device=cuda on a build without CUDA: one line naming the fix, exit 1, nothing written',
  { skip: noCuda },
  async () => {
    const root = tinyCorpus();
    const work = mkdtempSync(join(tmpdir(), 'eflip-cuda-refused-'));
    const runDir = join(work, 'run');
    const before = snapshot(work);
    for (const dev of ['cuda', 'cuda:1']) {
      const r = await runEflip(
        [
          'train',
          '--config',
          join(configs, 'synth.yaml'),
          ...tinyOverrides(root, runDir),
          `train.device=${dev}`,
        ],
        { cwd: work },
      );
      assertRefused(
        r,
        new RegExp(
          `train\\.device=${dev}: CUDA is not available: the addon is built against libtorch .* without CUDA; rebuild the addon against a CUDA libtorch: LIBTORCH_USE_PYTORCH=1 npx eflip build-native .*or set train\\.device=cpu`,
        ),
        { code: 1, label: dev },
      );
      assert.ok(!existsSync(runDir), 'no run directory');
    }
    const fp16 = await runEflip(
      [
        'train',
        '--config',
        join(configs, 'synth.yaml'),
        ...tinyOverrides(root, runDir),
        'train.precision=fp16',
      ],
      { cwd: work },
    );
    assertRefused(fp16, /train\.precision=fp16 needs a CUDA device/, { code: 1 });
    assert.ok(!existsSync(runDir));
    assertUnchanged(work, before);
    assert.deepEqual(readdirSync(work), []);
    // a bad device string stays a config error naming the key
    const bad = await runEflip(
      [
        'train',
        '--config',
        join(configs, 'synth.yaml'),
        ...tinyOverrides(root, runDir),
        'train.device=gpu0',
      ],
      { cwd: work },
    );
    assertRefused(bad, /train\.device' expects cpu or cuda\[:N\], got 'gpu0'/, { code: 2 });
    assert.deepEqual(readdirSync(work), []);
  },
);

test(
  'eval / predict / bench train with --device cuda on a build without CUDA: one line naming the fix; doctor reports the build has no CUDA',
  { skip: noCuda },
  async () => {
    const root = tinyCorpus();
    const model = new URL('../../assets/demo/model.safetensors', import.meta.url).pathname;
    const word = readdirSync(root).find((w) => existsSync(join(root, w, 'test')))!;
    const clip = join(
      root,
      word,
      'test',
      readdirSync(join(root, word, 'test')).find((f) => f.endsWith('.mp4'))!,
    );
    const fix =
      /CUDA is not available: the addon is built against libtorch .* without CUDA; rebuild the addon against a CUDA libtorch: LIBTORCH_USE_PYTORCH=1 npx eflip build-native/;
    assertRefused(
      await runEflip(['eval', '--checkpoint', model, '--data', root, '--device', 'cuda']),
      fix,
      { code: 1, label: 'eval' },
    );
    assertRefused(
      await runEflip([
        'predict',
        '--checkpoint',
        model,
        '--runtime',
        'torch',
        '--device',
        'cuda',
        clip,
      ]),
      fix,
      { code: 1, label: 'predict' },
    );
    assertRefused(await runEflip(['bench', 'train', '--device', 'cuda', '--json']), fix, {
      code: 1,
      label: 'bench train',
    });
    // the onnx runtime on a machine without a GPU: one line about the device, not the model,
    // and none of onnxruntime's own (ANSI-coloured) log lines
    if (!existsSync('/dev/nvidiactl')) {
      const ort = await runEflip(['predict', '--checkpoint', model, '--device', 'cuda', clip]);
      assertRefused(
        ort,
        /^eflip predict: device cuda: onnxruntime's CUDA execution provider cannot run here \(.*\); use device cpu or auto$/,
        { code: 1, label: 'predict (onnx)' },
      );
      assert.doesNotMatch(ort.stderr, /\x1b\[|onnxruntime could not load the model/);
    }
    // doctor says the build has no CUDA and how to get it, and is still ok (a CPU build is not a problem)
    const d = await runEflip(['doctor', '--json']);
    assert.equal(d.code, 0, d.stderr);
    const rep = JSON.parse(d.stdout);
    assert.deepEqual(
      [rep.ok, rep.cuda.built, rep.cuda.available, rep.cuda.devices],
      [true, false, false, []],
    );
    assert.match(rep.cuda.fix, /LIBTORCH_USE_PYTORCH=1 npx eflip build-native/);
    const text = await runEflip(['doctor']);
    assert.match(
      text.stdout,
      /^cuda {8}not in this build \(CPU-only libtorch\); for train\.device=cuda rebuild the addon/m,
    );
  },
);

test('a short CPU run with train.channels_last=true and bf16 runs through the whole device path and writes a device-independent checkpoint', async () => {
  const root = tinyCorpus();
  const runDir = join(mkdtempSync(join(tmpdir(), 'eflip-device-run-')), 'run');
  const { runTraining } = await import('../src/train/run.js');
  const r = await runTraining({
    configFile: join(configs, 'synth.yaml'),
    overrides: [
      ...tinyOverrides(root, runDir),
      'train.epochs=2',
      'train.device=cpu',
      'train.channels_last=true',
      'train.precision=bf16',
    ],
    log: () => {},
    stream: quiet,
  });
  assert.equal(r.epochs, 2);
  const ck = readCheckpoint(join(runDir, 'checkpoints', 'last.ckpt'));
  assert.equal(ck.trainConfig.train.channels_last, true);
  // checkpoint tensors are plain row-major CPU data: they load into a contiguous model for inference
  const { loadForEval } = await import('../src/train/model_io.js');
  const m = loadForEval(join(runDir, 'checkpoints', 'last.ckpt'));
  const out = tidy(() =>
    noGrad(() => m.model.forward(randn([1, 1, 8, 24, 24])).toTypedArray() as Float32Array),
  );
  assert.ok(out.every(Number.isFinite));
  m.model.dispose();
  // and resumes with another layout and precision (as a CUDA run resumes with train.device=cpu)
  const r2 = await runTraining({
    overrides: [
      `checkpoint=${runDir}`,
      'train.epochs=3',
      'train.channels_last=false',
      'train.precision=fp32',
    ],
    log: () => {},
    stream: quiet,
  });
  assert.equal(r2.epochs, 3);
  assert.equal(r2.config.train.channels_last, false);
  const ep = readCheckpoint(join(runDir, 'checkpoints', 'last.ckpt')).state;
  assert.equal(ep.epoch, 3);
});

test('bench train: each side trains in its default trunk layout (eflip channels-last, PyTorch NCHW) unless one layout is forced; CPU time per step on both sides; default_recipe is the default precision ÷ PyTorch eager fp32', async () => {
  assertRefused(
    await runEflip(['bench', 'train', '--channels-last', '--contiguous', '--json']),
    /--channels-last and --contiguous exclude each other/,
    { label: 'both layouts' },
  );
  const tiny = ['--batch', '1', '--frames', '2', '--size', '48', '--classes', '5'];
  const run = async (extra: string[], bf16 = false) => {
    const r = await runEflip(
      [
        'bench',
        'train',
        '--json',
        ...tiny,
        '--steps',
        '1',
        '--warmup',
        '0',
        '--rounds',
        '1',
        ...(bf16 ? [] : ['--no-bf16']),
        '--threads',
        '1',
        ...extra,
      ],
      { timeoutMs: 600_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const def = await run([], true);
  assert.deepEqual(def.layout, { eflip: 'channels_last', pytorch: 'contiguous' });
  // the headline: the default recipe (train.precision=auto as resolved here) ÷ PyTorch eager fp32
  const auto = cpuNativeBf16() ? 'bf16' : 'fp32';
  assert.equal(def.default_recipe.precision, auto);
  assert.equal(def.default_recipe.layout, 'channels_last');
  assert.equal(def.default_recipe.eflip_clips_per_s, def[auto].eflip.clips_per_s);
  assert.equal(def.default_recipe.pytorch_fp32_clips_per_s, def.fp32.pytorch.clips_per_s);
  assert.ok(
    Math.abs(
      def.default_recipe.ratio - def[auto].eflip.clips_per_s / def.fp32.pytorch.clips_per_s,
    ) < 1e-12,
  );
  assert.equal(def.channels_last, false, 'not the same layout on both sides');
  for (const side of ['eflip', 'pytorch'])
    assert.ok(def.fp32[side].cpu_ms_per_step > 0, `${side} cpu_ms_per_step`);
  assert.ok(def.fp32.ratio > 0, 'a ratio');
  const nchw = await run(['--contiguous']);
  assert.deepEqual(nchw.layout, { eflip: 'contiguous', pytorch: 'contiguous' });
});
