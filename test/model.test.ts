// The network and its nn building blocks: exact parameter counts, MACs, a forward per variant,
// custom configs, state-dict checks, BN momentum, drop-path, model files, and the
// init/import/info commands (import round trip of a torch.save Lightning checkpoint).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  tidy,
  noGrad,
  randn,
  ones,
  zeros,
  manualSeed,
  setNumThreads,
  liveTensors,
  fromBytes,
  tensor,
  type Tensor,
} from '../src/engine/index.js';
import {
  BatchNorm1d,
  Conv2d,
  DropPath,
  Linear,
  Sequential,
  StateDictError,
} from '../src/nn/index.js';
import { LipReaderNet } from '../src/model/lipreader.js';
import { modelConfig, VARIANTS, ModelConfigError } from '../src/model/config.js';
import { summarize } from '../src/model/summary.js';
import { loadModel, saveModel, createModel, tensorToRaw } from '../src/model/weights.js';
import {
  readSafetensors,
  writeSafetensors,
  rawToFloat32,
  type RawTensor,
} from '../src/io/safetensors.js';
import { LRW_WORDS, LRW_WORDS_SEED42 } from '../src/model/lrw_words.js';
import { hasTorch, py, tempDir, ROOT } from './model_helpers.js';

const { dir, cleanup } = tempDir('model');
after(cleanup);
const noTorch = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
const BIN = join(ROOT, 'bin/eflip.js');
setNumThreads(2);

const EXPECTED: Record<string, { params: number; gmacs: number }> = {
  T: { params: 8_178_686, gmacs: 1.29 },
  S: { params: 26_194_496, gmacs: 14.18 },
  B: { params: 11_920_824, gmacs: 3.97 },
};
const fromRaw = (r: RawTensor): Tensor => fromBytes(r.data, r.dtype, r.shape);
const values = (t: Tensor): Float32Array => rawToFloat32(tensorToRaw(t));
function eflip(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

test('parameter counts (500 classes) are exact and MACs per 29×88×88 clip within 1 % of docs/design.md', () => {
  for (const v of VARIANTS) {
    const s = summarize(modelConfig({ variant: v, classes: 500 }));
    assert.equal(s.params.total, EXPECTED[v].params, `${v} params (architecture)`);
    assert.equal(
      s.params.frontend + s.params.transformer + s.params.tcn + s.params.head,
      s.params.total,
    );
    const rel = Math.abs(s.macs.convLinear / 1e9 - EXPECTED[v].gmacs) / EXPECTED[v].gmacs;
    assert.ok(
      rel < 0.01,
      `${v}: ${s.macs.convLinear / 1e9} GMACs vs ${EXPECTED[v].gmacs} (${(rel * 100).toFixed(2)} %)`,
    );
    const before = liveTensors();
    const m = new LipReaderNet({ variant: v, classes: 500 });
    assert.equal(m.numParameters(), EXPECTED[v].params, `${v} params (built network)`);
    let buffers = 0;
    for (const [, b] of m.namedBuffers()) buffers += b.numel;
    assert.equal(buffers, s.buffers);
    m.dispose();
    assert.equal(liveTensors(), before, 'dispose frees every parameter and buffer');
  }
});

test('a forward per registered variant: finite (B, classes) log-probs summing to 1, batch 1 included', () => {
  manualSeed(0);
  for (const v of VARIANTS) {
    const m = new LipReaderNet({ variant: v, classes: 500 }).eval();
    noGrad(() =>
      tidy(() => {
        for (const [b, t] of [
          [1, 4],
          [2, 3],
          [1, 1],
        ]) {
          const y = m.forward(randn([b, 1, t, 88, 88]));
          assert.deepEqual(y.shape, [b, 500], `${v} B=${b}`);
          const vals = values(y);
          assert.ok(vals.every(Number.isFinite), `${v}: finite`);
          const sums = values(y.exp().sum(1));
          for (const s of sums)
            assert.ok(Math.abs(s - 1) < 1e-4, `${v}: probabilities sum to ${s}`);
        }
      }),
    );
    m.dispose();
  }
});

test('state-dict keys and shapes equal the PyTorch reference (T)', { skip: noTorch }, () => {
  const p = join(dir, 'ref_keys.safetensors');
  py('lipreader.py', ['init', '--variant', 'T', '--classes', '500', '--out', p]);
  const ref = readSafetensors(p).tensors;
  const m = new LipReaderNet({ variant: 'T' });
  const own = m.stateDict();
  assert.deepEqual([...own.keys()], [...ref.keys()], 'same keys in the same order');
  for (const [k, t] of own) {
    assert.deepEqual(t.shape, ref.get(k)!.shape, k);
    assert.equal(t.dtype, ref.get(k)!.dtype, k);
  }
  m.dispose();
});

test('custom config: stage rows, max-pool, swish, colour input, 2 encoder layers, small TCN', () => {
  const cfg = modelConfig({
    stages: ['1,3,1,8,8,1 F', '4,3,2,8,16,1 F', '4,3,2,16,24,2 M', '6,5,2,24,32,1 N'],
    classes: 10,
    inChannels: 3,
    frontendMaxPool: true,
    frontendActivation: 'swish',
    featureDim: 64,
    transformer: { layers: 2, heads: 4, ffn: 32 },
    tcn: { layers: 2, width: 48, kernel: 5 },
    dropPath: 0.2,
  });
  assert.equal(cfg.variant, 'custom');
  // a named variant is its table: other stages are custom whatever they are called; its own are it
  assert.equal(modelConfig({ variant: 'T', stages: cfg.stages }).variant, 'custom');
  assert.equal(
    modelConfig({ variant: 'S', stages: modelConfig({ variant: 'S' }).stages }).variant,
    'S',
  );
  const m = new LipReaderNet(cfg);
  assert.equal(m.numParameters(), summarize(cfg).params.total);
  const keys = [...m.stateDict().keys()];
  assert.ok(keys.includes('transformer_encoder.layers.1.self_attn.in_proj_weight'));
  assert.ok(keys.includes('frontend_3d.efnet.blocks.4.block.depth_wise.0.weight'));
  assert.ok(
    !keys.some((k) => k.startsWith('frontend_3d.efnet.blocks.4.block.se')),
    'N rows have no squeeze-excite',
  );
  m.train();
  tidy(() => {
    const y = m.forward(randn([2, 3, 7, 64, 64]));
    assert.deepEqual(y.shape, [2, 10]);
    y.sum().backward();
  });
  tidy(() => {
    for (const [n, p] of m.namedParameters()) assert.ok(p.grad, `gradient reaches ${n}`);
  });
  // float64 copy of the network runs on float64 input; integer buffers stay int64
  m.eval().to('float64');
  noGrad(() =>
    tidy(() => {
      const y = m.forward(randn([1, 3, 2, 64, 64], { dtype: 'float64' }));
      assert.equal(y.dtype, 'float64');
      assert.deepEqual(y.shape, [1, 10]);
    }),
  );
  m.requiresGrad_(false);
  assert.equal(m.numParameters(true), 0, 'frozen');
  m.dispose();
  assert.throws(() => modelConfig({ variant: 'Q' }), ModelConfigError);
  assert.throws(
    () => modelConfig({ stages: ['1,3,1,8,8,1 F', '4,3,2,9,16,2 F'] }),
    /inChannels 9 != previous outChannels 8/,
  );
  assert.throws(() => modelConfig({ transformer: { heads: 5 } }), /must divide featureDim/);
  assert.throws(() => modelConfig({ bogus: 1 } as never), /unknown model config key 'bogus'/);
});

test('loadStateDict: missing/unexpected report, shape and dtype checks, nothing modified on failure', () => {
  const m = new Sequential(new Linear(3, 2), new BatchNorm1d(2));
  const sd = m.stateDict();
  assert.deepEqual(
    [...sd.keys()],
    [
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
    ],
  );
  const w0 = values(sd.get('0.weight')!);
  const good = new Map<string, Tensor>([
    ['0.weight', ones([2, 3])],
    ['0.bias', zeros([2])],
    ['extra', zeros([1])],
  ]);
  assert.throws(
    () => m.loadStateDict(good),
    (e: Error) =>
      e instanceof StateDictError &&
      /missing: 1\.weight/.test(e.message) &&
      /unexpected: extra/.test(e.message),
  );
  const r = m.loadStateDict(good, { strict: false });
  assert.deepEqual(r.unexpected, ['extra']);
  assert.equal(r.missing.length, 5);
  assert.deepEqual([...values(m.stateDict().get('0.weight')!)], [1, 1, 1, 1, 1, 1]);
  assert.notDeepEqual([...w0], [1, 1, 1, 1, 1, 1]);
  assert.throws(
    () =>
      m.loadStateDict(
        new Map([
          ['0.weight', zeros([3, 2])],
          ['0.bias', ones([2])],
        ]),
        { strict: false },
      ),
    /shape \[3, 2\] does not match the model's \[2, 3\]/,
  );
  assert.deepEqual(
    [...values(m.stateDict().get('0.bias')!)],
    [0, 0],
    'failed load changed nothing',
  );
  assert.throws(
    () => m.loadStateDict(new Map([['1.num_batches_tracked', tensor([1.5])]]), { strict: false }),
    /shape|dtype/,
  );
  // Linear (out, in) weights load into 1×1 convs (out, in, 1, 1) and back
  const c = new Conv2d(3, 2, 1);
  const rep = c.loadStateDict(
    new Map([
      ['weight', ones([2, 3])],
      ['bias', zeros([2])],
    ]),
  );
  assert.deepEqual(rep.reshaped, ['weight']);
  // to(float64) keeps integer buffers
  m.to('float64');
  assert.equal(m.stateDict().get('0.weight')!.dtype, 'float64');
  assert.equal(m.stateDict().get('1.num_batches_tracked')!.dtype, 'int64');
  assert.ok(m.stateDict().get('0.weight')!.requiresGrad);
  m.dispose();
  c.dispose();
  for (const t of good.values()) t.dispose();
});

test('BatchNorm momentum (PyTorch convention) and num_batches_tracked; drop-path per sample', () => {
  const bn = new BatchNorm1d(2, { momentum: 0.01 });
  const x = tensor([
    [1, 10],
    [3, 30],
    [5, 50],
  ]);
  tidy(() => bn.forward(x));
  assert.deepEqual(
    [...values(bn.stateDict().get('running_mean')!)].map((v) => +v.toFixed(5)),
    [0.03, 0.3],
  );
  // unbiased batch variance: 4 and 400
  assert.deepEqual(
    [...values(bn.stateDict().get('running_var')!)].map((v) => +v.toFixed(4)),
    [1.03, 4.99],
  );
  assert.equal(bn.stateDict().get('num_batches_tracked')!.item(), 1);
  bn.eval();
  tidy(() => bn.forward(x));
  assert.equal(bn.stateDict().get('num_batches_tracked')!.item(), 1, 'eval does not update');
  bn.dispose();
  x.dispose();

  manualSeed(5);
  const dp = new DropPath(0.5);
  tidy(() => {
    const y = values(dp.forward(ones([64, 3])));
    const rows = Array.from({ length: 64 }, (_, i) => y[i * 3]);
    for (let i = 0; i < 64; i++)
      assert.ok(
        y[i * 3] === y[i * 3 + 1] && y[i * 3 + 1] === y[i * 3 + 2],
        'whole sample kept or dropped',
      );
    const dropped = rows.filter((v) => v === 0).length;
    assert.ok(
      rows.every((v) => v === 0 || v === 2),
      'kept samples scaled by 1/(1-p)',
    );
    assert.ok(dropped > 16 && dropped < 48, `${dropped} of 64 dropped`);
    dp.eval();
    assert.deepEqual([...values(dp.forward(ones([4, 3])))], new Array(12).fill(1));
  });
});

test('model file round trip: config, labels, identical outputs; EMA tensors preferred', () => {
  const m = createModel(
    { variant: 'T', classes: 20, transformer: { ffn: 64 } },
    { seed: 3 },
  ).eval();
  const f = join(dir, 'm.safetensors');
  saveModel(f, m, { labels: LRW_WORDS.slice(100, 120) as string[] });
  const l = loadModel(f);
  assert.equal(l.config.transformer.ffn, 64);
  assert.deepEqual(l.labels, LRW_WORDS.slice(100, 120));
  l.model.eval();
  noGrad(() =>
    tidy(() => {
      const x = randn([1, 1, 5, 88, 88]);
      assert.deepEqual([...values(l.model.forward(x))], [...values(m.forward(x))]);
    }),
  );
  // a training checkpoint with model./ema. prefixes: EMA wins unless asked otherwise
  const file = readSafetensors(f);
  const entries: [string, RawTensor][] = [];
  for (const [k, t] of file.tensors) {
    entries.push([`model.${k}`, t]);
    const e =
      k === 'fc_layer.bias'
        ? { ...t, data: new Uint8Array(new Float32Array(20).fill(7).buffer) }
        : t;
    entries.push([`ema.${k}`, e]);
  }
  const ck = join(dir, 'ck.safetensors');
  writeSafetensors(ck, entries, file.metadata);
  const a = loadModel(ck),
    b = loadModel(ck, { ema: false });
  assert.equal(a.source, 'ema.');
  assert.equal(b.source, 'model.');
  assert.deepEqual([...values(a.model.stateDict().get('fc_layer.bias')!)], new Array(20).fill(7));
  for (const x of [m, l.model, a.model, b.model]) x.dispose();
});

test('eflip info / init: numbers and a file PyTorch loads strictly', { skip: noTorch }, () => {
  const r = eflip('info', '--variant', 'T', '--classes', '500', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.params.total, 8_178_686);
  assert.ok(Math.abs(j.macs.convLinear / 1e9 - 1.29) < 0.0129);
  const out = join(dir, 'init.safetensors');
  const i = eflip('init', '--variant', 'T', '--classes', '500', '--seed', '4', '--out', out);
  assert.equal(i.status, 0, i.stderr);
  const meta = readSafetensors(out).metadata;
  assert.deepEqual(JSON.parse(meta.labels), LRW_WORDS);
  assert.equal(JSON.parse(meta.config).variant, 'T');
  // PyTorch loads the TS-written file strictly and runs it
  const x = join(dir, 'init_x.safetensors');
  writeSafetensors(x, [['x', tidy(() => tensorToRaw(randn([1, 1, 3, 88, 88])))]]);
  py('lipreader.py', [
    'forward',
    '--weights',
    out,
    '--input',
    x,
    '--out',
    join(dir, 'init_y.safetensors'),
  ]);
  const same = eflip(
    'init',
    '--variant',
    'T',
    '--classes',
    '500',
    '--seed',
    '4',
    '--out',
    join(dir, 'init2.safetensors'),
  );
  assert.equal(same.status, 0);
  const a = readSafetensors(out).tensors.get('fc_layer.weight')!.data,
    b = readSafetensors(join(dir, 'init2.safetensors')).tensors.get('fc_layer.weight')!.data;
  assert.deepEqual(Buffer.from(a), Buffer.from(b), 'same seed, same weights');
  assert.equal(eflip('init', '--variant', 'T').status, 2, '--out is required');
  const fromFile = eflip('info', '--model', out, '--json');
  assert.equal(fromFile.status, 0, fromFile.stderr);
  assert.equal(JSON.parse(fromFile.stdout).params.total, 8_178_686);
});

test(
  'eflip import: bare state dict of variant B, 37 classes, labels from a file; Linear-shaped SE weights',
  { skip: noTorch },
  () => {
    const w = join(dir, 'bare_w.safetensors');
    py('lipreader.py', ['init', '--variant', 'B', '--classes', '37', '--seed', '2', '--out', w]);
    const pt = join(dir, 'bare.pt');
    py('io_fixtures.py', ['bare', '--weights', w, '--out', pt]);
    const labels = join(dir, 'labels.txt');
    writeFileSync(
      labels,
      LRW_WORDS.slice(0, 37)
        .map((s) => s.toLowerCase())
        .join('\n') + '\n',
    );
    const out = join(dir, 'bare.safetensors');
    const r = eflip('import', pt, '--out', out, '--labels', labels);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /state dict at '<root>'/);
    assert.match(r.stdout, /reshaped \d+ tensors/);
    assert.match(r.stdout, /variant B, 37 classes/);
    const a = readSafetensors(out),
      b = readSafetensors(w);
    assert.equal(JSON.parse(a.metadata.labels)[0], 'about');
    for (const [k, t] of b.tensors)
      assert.deepEqual(Buffer.from(a.tensors.get(k)!.data), Buffer.from(t.data), k);
    assert.equal(
      eflip('import', pt, '--out', out, '--labels', labels, '--variant', 'T').status,
      1,
      'wrong variant: shape errors',
    );
  },
);

test(
  'eflip import: Lightning checkpoint from torch.save → same outputs as PyTorch within 1e-4; os.system pickle runs nothing',
  { skip: noTorch },
  () => {
    const w = join(dir, 'lt.safetensors');
    py('lipreader.py', [
      'init',
      '--variant',
      'T',
      '--classes',
      '500',
      '--seed',
      '11',
      '--random-bn',
      '--out',
      w,
    ]);
    const ckpt = join(dir, 'lt.ckpt');
    py('io_fixtures.py', ['lightning', '--weights', w, '--out', ckpt]);
    const out = join(dir, 'imported.safetensors');
    // attention over time: the Python network here is eflip's (reference_import.test.ts covers 'self')
    const r = eflip('import', ckpt, '--out', out, '--attention', 'time');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /prefix 'model\.' stripped/);
    assert.match(r.stdout, /labels: seed42 order, first 500 \(hyper-parameter words = 500\)/);
    const x = join(dir, 'lt_x.safetensors');
    manualSeed(9);
    writeSafetensors(x, [['x', tidy(() => tensorToRaw(randn([2, 1, 17, 88, 88])))]]);
    py('lipreader.py', [
      'forward',
      '--weights',
      w,
      '--input',
      x,
      '--out',
      join(dir, 'lt_y.safetensors'),
    ]);
    const ref = rawToFloat32(readSafetensors(join(dir, 'lt_y.safetensors')).tensors.get('logp')!);
    const l = loadModel(out);
    assert.deepEqual(l.labels, LRW_WORDS_SEED42);
    l.model.eval();
    noGrad(() =>
      tidy(() => {
        const y = values(l.model.forward(fromRaw(readSafetensors(x).tensors.get('x')!)));
        let d = 0;
        for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(y[i] - ref[i]));
        assert.ok(d < 1e-4, `imported model differs from PyTorch by ${d}`);
      }),
    );
    l.model.dispose();

    const marker = join(dir, 'MARKER');
    const evil = join(dir, 'evil.pt');
    py('io_fixtures.py', ['evil', '--out', evil, '--marker', marker]);
    const e = eflip('import', evil, '--out', join(dir, 'evil.safetensors'));
    assert.equal(e.status, 1);
    assert.match(e.stderr, /no state dict found/);
    assert.equal(existsSync(marker), false, 'os.system never ran');
    assert.equal(existsSync(join(dir, 'evil.safetensors')), false, 'nothing imported');
  },
);
