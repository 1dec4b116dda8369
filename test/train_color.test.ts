// Colour input (model.in_channels=3) end to end on the tiny synth corpus: training from an
// LRW-layout tree (decoded as RGB) and from `eflip prepare --color` shards, `eflip eval` and
// `eflip predict` (both runtimes) feeding RGB, the same pixels in training and inference,
// grey/colour mismatches refused, word-boundary inputs (grey + boundary = 2 channels, the
// existing case, and RGB + boundary = 4), and the exact grey↔colour stem conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randn, tidy, noGrad, type Tensor } from '../src/engine/index.js';
import { writeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { readShardHeader } from '../src/data/shard.js';
import { indexLrw } from '../src/data/lrw.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { loadConfig } from '../src/train/config.js';
import { MetricsLog } from '../src/train/metrics_log.js';
import { modelConfigFor } from '../src/train/model_config.js';
import { loadPretrained, STEM_WEIGHT } from '../src/train/model_io.js';
import { createModel } from '../src/model/weights.js';
import { loadLrwSplits, MemoryClipSource } from '../src/train/data_source.js';
import { loadClip } from '../src/infer/frame_reader.js';
import { tinyCorpus, tinyOverrides, eflip, configs } from './train_helpers.js';

const synth = join(configs, 'synth.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'eflip-color-'));

/** Prepared shards of the tiny corpus, grey or colour (made once per process). */
const prepared = new Map<boolean, string>();
function shards(color: boolean): string {
  let dir = prepared.get(color);
  if (!dir) {
    dir = join(tmp, color ? 'shards-rgb' : 'shards-grey');
    const r = eflip([
      'prepare',
      '--lrw',
      tinyCorpus(),
      '--out',
      dir,
      '--jobs',
      '1',
      '--quiet',
      ...(color ? ['--color'] : []),
    ]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    prepared.set(color, dir);
  }
  return dir;
}

function train(name: string, extra: string[]) {
  const runDir = join(tmp, name);
  const r = eflip([
    'train',
    '--config',
    synth,
    ...tinyOverrides(tinyCorpus(), runDir),
    'train.epochs=1',
    ...extra,
  ]);
  return {
    r,
    runDir,
    last: join(runDir, 'checkpoints', 'last.ckpt'),
    best: join(runDir, 'checkpoints', 'best.ckpt'),
  };
}

const stemShape = (ckpt: string) => {
  const ck = readCheckpoint(ckpt);
  return {
    model: ck.model.get(STEM_WEIGHT)!.shape,
    ema: ck.ema!.get(STEM_WEIGHT)!.shape,
    config: ck.modelConfig as { inChannels: number },
    ck,
  };
};

const stepLosses = (runDir: string) =>
  MetricsLog.read(join(runDir, 'metrics.jsonl'))
    .filter((r) => r.kind === 'step')
    .map((r) => r.loss as number);

function predictJson(file: string, ckpt: string, runtime: 'onnx' | 'torch') {
  const r = eflip([
    'predict',
    file,
    '--checkpoint',
    ckpt,
    '--runtime',
    runtime,
    '--top',
    '2',
    '--json',
  ]);
  assert.equal(r.status, 0, `${runtime}: ${r.stderr}${r.stdout}`);
  const top = JSON.parse(r.stdout).results[0].top as { label: string; probability: number }[];
  assert.equal(top.length, 2);
  return top;
}

function evalJson(ckpt: string, split = 'val') {
  const r = eflip([
    'eval',
    '--checkpoint',
    ckpt,
    '--data',
    tinyCorpus(),
    '--split',
    split,
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as { samples: number; loss: number; top1: number };
}

test('colour model trains from an LRW tree and from --color shards; eval and predict feed it RGB', async () => {
  const root = tinyCorpus();
  const valClip = readdirSync(join(root, 'ABOUT', 'val'))
    .filter((f) => f.endsWith('.mp4'))
    .map((f) => join(root, 'ABOUT', 'val', f))[0];

  // 1. LRW-layout tree, decoded as RGB into memory
  const a = train('tree', ['model.in_channels=3']);
  assert.equal(a.r.status, 0, a.r.stderr + a.r.stdout);
  assert.match(a.r.stdout, /2 words \(colour\); clips: train 8, val 4/);
  assert.match(a.r.stdout, /3 input channels/);
  const sa = stemShape(a.last);
  assert.deepEqual(sa.model, [8, 3, 3, 5, 5], 'the first conv sees 3 channels');
  assert.deepEqual(sa.ema, [8, 3, 3, 5, 5]);
  assert.equal(sa.config.inChannels, 3);
  assert.equal(sa.ck.trainConfig.model.in_channels, 3);
  assert.equal(sa.ck.state.step, 4);
  assert.ok(stepLosses(a.runDir).every(Number.isFinite));

  // 2. colour shards through the src/data loader
  const dir = shards(true);
  const h = readShardHeader(
    join(
      dir,
      'train',
      readdirSync(join(dir, 'train'))
        .filter((f) => f.endsWith('.bin'))
        .sort()[0],
    ),
  );
  assert.equal(h.channels, 3);
  const b = train('shards', ['model.in_channels=3', `data.shards=${dir}`]);
  assert.equal(b.r.status, 0, b.r.stderr + b.r.stdout);
  assert.match(b.r.stdout, /loading prepared shards/);
  assert.match(b.r.stdout, /2 words \(colour\); clips: train 8, val 4/);
  const sb = stemShape(b.last);
  assert.deepEqual(sb.model, [8, 3, 3, 5, 5]);
  assert.equal(sb.ck.state.step, 4);
  assert.equal(stepLosses(b.runDir).length, 4);
  assert.ok(stepLosses(b.runDir).every(Number.isFinite));

  // 3. eval: the checkpoint's 3 channels decide RGB decoding
  for (const ck of [a.best, b.best]) {
    const m = evalJson(ck);
    assert.equal(m.samples, 4);
    assert.ok(Number.isFinite(m.loss));
  }
  const ev = eflip(['eval', '--checkpoint', a.best, '--data', root, '--split', 'val']);
  assert.match(ev.stderr, /mouth crop, colour\)/);

  // 4. predict on a real mp4, both runtimes, same answer
  const onnx = predictJson(valClip, a.best, 'onnx');
  const torch = predictJson(valClip, a.best, 'torch');
  assert.ok(
    Math.abs(onnx[0].probability + onnx[1].probability - 1) < 1e-3,
    '2 words: the top 2 hold all the mass',
  );
  assert.equal(onnx[0].label, torch[0].label);
  assert.ok(
    Math.abs(onnx[0].probability - torch[0].probability) < 1e-3,
    `onnx ${onnx[0].probability} vs torch ${torch[0].probability}`,
  );

  // 5. the pixels: inference preprocessing (predict) = training/eval batches, plane by plane (R, G, B)
  const cfg = loadConfig({
    file: synth,
    overrides: [...tinyOverrides(root, join(tmp, 'unused')), 'model.in_channels=3'],
  });
  const data = await loadLrwSplits(cfg, ['val'], ['ABOUT', 'ABSOLUTELY']);
  const paths = (await indexLrw(root, { splits: ['val'] })).clips
    .filter((c) => c.split === 'val')
    .map((c) => c.path);
  const k = paths.indexOf(valClip);
  assert.ok(k >= 0);
  const src = new MemoryClipSource(data.clips.val, {
    batchSize: 1,
    shuffle: false,
    seed: 0,
    size: 24,
    frames: 8,
    mean: cfg.data.mean,
    std: cfg.data.std,
    augment: null,
    dropLast: false,
  });
  let x: Float32Array | null = null,
    shape: number[] = [];
  let i = 0;
  for await (const batch of src.batches(0, 0)) {
    if (i++ === k) {
      x = Float32Array.from(batch.x.dataView() as Float32Array);
      shape = batch.x.shape;
    }
    batch.x.dispose();
  }
  assert.deepEqual(shape, [1, 3, 8, 24, 24], '(B, C, T, H, W) with C = 3');
  const clip = await loadClip(
    valClip,
    { crop: 'mouth', size: 24, mean: cfg.data.mean, std: cfg.data.std, grey: 'bt601' },
    { channels: 3 },
  );
  assert.equal(clip.channels, 3);
  const T = clip.frames,
    P = 24 * 24,
    t0 = Math.floor((T - 8) / 2);
  let diff = 0,
    rg = 0,
    gb = 0;
  for (let c = 0; c < 3; c++) {
    for (let t = 0; t < 8; t++) {
      for (let p = 0; p < P; p++) {
        const v = x![(c * 8 + t) * P + p];
        diff = Math.max(diff, Math.abs(v - clip.data[(c * T + t0 + t) * P + p]));
        if (c === 0) rg = Math.max(rg, Math.abs(v - x![(8 + t) * P + p]));
        if (c === 1) gb = Math.max(gb, Math.abs(v - x![(16 + t) * P + p]));
      }
    }
  }
  assert.ok(diff < 1e-5, `predict and eval inputs differ by ${diff}`);
  assert.ok(
    rg > 0.1 && gb > 0.1,
    `R, G, B planes are distinct colours (max |R−G| ${rg}, |G−B| ${gb})`,
  );
});

test('grey/colour mismatches are refused naming both; word-boundary inputs (2 and 4 channels) still work', () => {
  // colour shards into a grey model, grey shards into a colour model
  const c1 = train('mismatch-rgb', [`data.shards=${shards(true)}`]);
  assert.notEqual(c1.r.status, 0);
  assert.match(
    c1.r.stderr,
    /holds colour \(RGB, 3 channels\) clips but model\.in_channels=1 expects grey \(1 channel\) input: set model\.in_channels=3/,
  );
  const c2 = train('mismatch-grey', [`data.shards=${shards(false)}`, 'model.in_channels=3']);
  assert.notEqual(c2.r.status, 0);
  assert.match(
    c2.r.stderr,
    /holds grey \(1 channel\) clips but model\.in_channels=3 expects colour \(RGB, 3 channels\) input: .*eflip prepare --color/,
  );
  // in_channels=2 is the word-boundary plane's job
  const c3 = train('two', ['model.in_channels=2']);
  assert.notEqual(c3.r.status, 0);
  assert.match(
    c3.r.stderr,
    /config key 'model\.in_channels' is 1 \(grey\) or 3 \(colour RGB\), got 2; .*data\.word_boundary=true/,
  );
  assert.ok(!existsSync(c3.runDir), 'refused by the config check, before the run dir is made');

  // grey + boundary (2 channels) and RGB + boundary (4): train, eval, predict
  const file = join(tinyCorpus(), 'ABOUT', 'val', 'ABOUT_00001.mp4');
  for (const [name, extra, channels] of [
    ['wb-grey', [], 2],
    ['wb-rgb', ['model.in_channels=3'], 4],
  ] as const) {
    const r = train(name, ['data.word_boundary=true', 'train.max_steps=2', ...extra]);
    assert.equal(r.r.status, 0, r.r.stderr + r.r.stdout);
    const s = stemShape(r.last);
    assert.deepEqual(s.model, [8, channels, 3, 5, 5], name);
    assert.equal(s.config.inChannels, channels);
    const m = evalJson(r.last);
    assert.equal(m.samples, 4);
    assert.ok(Number.isFinite(m.loss));
    const p = predictJson(file, r.last, 'torch');
    assert.ok(p[0].probability >= p[1].probability);
  }
});

function save(path: string, m: ReturnType<typeof createModel>): void {
  const entries: [string, RawTensor][] = tidy(() =>
    [...m.stateDict()].map(([k, t]) => [
      `model.${k}`,
      {
        dtype: t.dtype as RawTensor['dtype'],
        shape: t.shape,
        data: t.detach().contiguous().toBytes(),
      },
    ]),
  );
  writeSafetensors(path, entries, {});
}

const maxDiff = (a: Tensor, b: Tensor) => a.sub(b).abs().max().item();

test('fine-tuning converts the stem exactly: grey weights → colour (luma split) and colour → grey (sum)', () => {
  const tiny = [
    'data.size=16',
    'data.frames=4',
    'model.feature_dim=16',
    'model.tcn_channels=16',
    'model.transformer_heads=2',
  ];
  const grey = loadConfig({ file: synth, overrides: tiny });
  const colour = loadConfig({ file: synth, overrides: [...tiny, 'model.in_channels=3'] });
  const g = createModel(modelConfigFor(grey, 3), { seed: 1 });
  save(join(tmp, 'grey.ckpt'), g);
  const c = createModel(modelConfigFor(colour, 3), { seed: 2 });
  const rep = loadPretrained(c, join(tmp, 'grey.ckpt'));
  assert.match(
    rep.stemConverted ?? '',
    /\[8, 1, 3, 5, 5\] → \[8, 3, 3, 5, 5\] \(grey → colour input\)/,
  );
  g.eval();
  c.eval();
  tidy(() =>
    noGrad(() => {
      const rgb = randn([2, 3, 4, 16, 16]);
      const luma = rgb
        .narrow(1, 0, 1)
        .mul(0.299)
        .add(rgb.narrow(1, 1, 1).mul(0.587))
        .add(rgb.narrow(1, 2, 1).mul(0.114));
      const d = maxDiff(c.forward(rgb), g.forward(luma));
      assert.ok(d < 1e-4, `colour net on RGB = grey net on luma (max diff ${d})`);
    }),
  );
  // and back: a colour model's weights into a grey model, fed grey = R = G = B
  save(join(tmp, 'colour.ckpt'), c);
  const g2 = createModel(modelConfigFor(grey, 3), { seed: 3 });
  const rep2 = loadPretrained(g2, join(tmp, 'colour.ckpt'));
  assert.match(rep2.stemConverted ?? '', /colour → grey input/);
  g2.eval();
  tidy(() =>
    noGrad(() => {
      const y = randn([2, 1, 4, 16, 16]);
      const d = maxDiff(g2.forward(y), c.forward(y.repeat([1, 3, 1, 1, 1])));
      assert.ok(d < 1e-4, `grey net on Y = colour net on (Y, Y, Y) (max diff ${d})`);
      assert.ok(
        maxDiff(g2.forward(y), g.forward(y)) < 1e-4,
        'round trip gives the original grey filters',
      );
    }),
  );
  for (const m of [g, c, g2]) m.dispose();
});
