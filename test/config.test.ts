import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadConfig,
  ConfigError,
  defaultConfig,
  configFromObject,
  configToYaml,
} from '../src/train/config.js';
import { modelConfigFor } from '../src/train/model_config.js';
import { modelConfig, ModelConfigError } from '../src/model/config.js';
import { createModel } from '../src/model/weights.js';
import YAML from 'yaml';

const configsDir = new URL('../../configs/', import.meta.url).pathname;

test('defaults follow the reference recipe', () => {
  const c = defaultConfig();
  assert.equal(c.optim.lr, 1e-4);
  assert.deepEqual(c.optim.betas, [0.9, 0.98]);
  assert.equal(c.optim.weight_decay, 5e-4);
  assert.equal(c.train.batch_size, 16);
  assert.equal(c.train.epochs, 40);
  assert.equal(c.schedule.warmup_epochs, 3);
  assert.equal(c.ema.decay, 0.999);
  assert.equal(c.model.dropout, 0.4);
});

test('model defaults have one source: a model built with no config is the training default model', () => {
  const net = createModel();
  try {
    const fromTraining = modelConfigFor(defaultConfig(), 500);
    // every key: variant, stage table, dropouts (classifier, transformer, TCN), drop-path, BN, sizes
    assert.deepEqual(fromTraining, net.config);
    assert.equal(net.config.dropout, 0.4);
    assert.equal(net.config.transformer.dropout, 0.4);
    assert.equal(net.config.tcn.dropout, 0.4);
    assert.equal(net.config.dropPath, 0.2);
    assert.equal(net.config.variant, 'T');
    assert.equal(net.config.stages.length, 6);
  } finally {
    net.dispose();
  }
  // an override changes the one key only
  const c = loadConfig({ overrides: ['model.tcn_dropout=0.1'] });
  const m = modelConfigFor(c, 500);
  assert.equal(m.tcn.dropout, 0.1);
  assert.equal(m.transformer.dropout, 0.4);
  // model.dropout (the reference's `dropout`) is also the transformer's and the TCN's unless they
  // are set: the same rule as modelConfig({dropout})
  const d = modelConfigFor(loadConfig({ overrides: ['dropout=0.25'] }), 500);
  assert.deepEqual([d.dropout, d.transformer.dropout, d.tcn.dropout], [0.25, 0.25, 0.25]);
  const mm = modelConfig({ dropout: 0.25 });
  assert.deepEqual([mm.transformer.dropout, mm.tcn.dropout], [0.25, 0.25]);
});

test('a stage row or size is refused by the one model validation, with the same message from both paths', () => {
  const cases: [string, string[]][] = [
    ['four fields', ['1,3,1,8']],
    ['unknown block kind', ['1,3,1,8,8,1 X']],
    ['even kernel', ['1,4,1,8,8,1 F']],
    ['broken chain', ['1,3,1,8,8,1 F', '4,3,2,16,32,1 M']],
    ['absurd width', ['1,3,1,8,99999999,1 F']],
  ];
  for (const [what, rows] of cases) {
    let modelMsg = '';
    assert.throws(
      () => modelConfig({ stages: rows }),
      (e: Error) => {
        modelMsg = e.message;
        return e instanceof ModelConfigError;
      },
      what,
    );
    assert.throws(
      () => loadConfig({ overrides: ['model.variant=custom', `model.stages=[${rows.join(',')}]`] }),
      (e: Error) => {
        // the compact override splits on commas; the YAML form keeps each row
        return e instanceof ConfigError;
      },
      what,
    );
    assert.throws(
      () => configFromObject({ model: { variant: 'custom', stages: rows } }),
      (e: Error) =>
        e instanceof ConfigError && e.message === `config key 'model.stages': ${modelMsg}`,
      `${what}: ${modelMsg}`,
    );
  }
  // sizes too: the training key is named, the rule is the model's
  let modelMsg = '';
  assert.throws(
    () => modelConfig({ tcn: { dropout: 1 } }),
    (e: Error) => ((modelMsg = e.message), true),
  );
  assert.throws(
    () => loadConfig({ overrides: ['model.tcn_dropout=1'] }),
    (e: Error) => e.message === `config key 'model.tcn_dropout': ${modelMsg}`,
  );
  assert.throws(
    () => loadConfig({ overrides: ['model.transformer_heads=7'] }),
    /config key 'model\.transformer_heads': model config: transformer\.heads \(7\) must divide featureDim \(384\)/,
  );
});

test('dotted overrides parse to the declared types', () => {
  const c = loadConfig({
    overrides: [
      'optim.lr=3e-4',
      'train.batch_size=8',
      'ema.enabled=false',
      'optim.betas=[0.8,0.9]',
      'data.words_list=a,b,c',
      'train.max_steps=null',
      'model.variant=S',
    ],
  });
  assert.equal(c.optim.lr, 3e-4);
  assert.equal(c.train.batch_size, 8);
  assert.equal(c.ema.enabled, false);
  assert.deepEqual(c.optim.betas, [0.8, 0.9]);
  assert.deepEqual(c.data.words_list, ['a', 'b', 'c']);
  assert.equal(c.model.variant, 'S');
});

test('reference names are aliases (CLI and YAML)', () => {
  const c = loadConfig({
    overrides: [
      'efficientnet_size=B',
      'use_ema=false',
      'words=10',
      'batch_size=4',
      'epochs=2',
      'lr=0.01',
      'dropout=0.1',
      'weight_decay=0',
      'warmup_epochs=1',
      'ema_decay=0.99',
      'workers=0',
      'seed=7',
      'in_channels=3',
      'checkpoint_dir=/tmp/x',
      'checkpoint=/tmp/last.ckpt',
      'pretrained_model_path=/tmp/w.safetensors',
    ],
  });
  assert.equal(c.model.variant, 'B');
  assert.equal(c.ema.enabled, false);
  assert.equal(c.data.words, 10);
  assert.equal(c.train.batch_size, 4);
  assert.equal(c.train.epochs, 2);
  assert.equal(c.optim.lr, 0.01);
  assert.equal(c.model.dropout, 0.1);
  assert.equal(c.optim.weight_decay, 0);
  assert.equal(c.schedule.warmup_epochs, 1);
  assert.equal(c.ema.decay, 0.99);
  assert.equal(c.data.workers, 0);
  assert.equal(c.seed, 7);
  assert.equal(c.model.in_channels, 3);
  assert.equal(c.checkpointing.dir, '/tmp/x');
  assert.equal(c.checkpoint, '/tmp/last.ckpt');
  assert.equal(c.pretrained_model_path, '/tmp/w.safetensors');
  const d = configFromObject({
    efficientnet_size: 'S',
    lr: 0.5,
    use_ema: true,
    train: { epochs: 3 },
  });
  assert.equal(d.model.variant, 'S');
  assert.equal(d.optim.lr, 0.5);
  assert.equal(d.train.epochs, 3);
});

test('unknown keys are rejected naming the key, with a hint', () => {
  assert.throws(
    () => loadConfig({ overrides: ['optim.lrr=1'] }),
    (e: Error) =>
      e instanceof ConfigError && /'optim\.lrr'/.test(e.message) && /optim\.lr/.test(e.message),
  );
  assert.throws(() => loadConfig({ overrides: ['nonsense=1'] }), /unknown config key 'nonsense'/);
  assert.throws(() => loadConfig({ overrides: ['optim=1'] }), /'optim' is a section/);
  assert.throws(() => loadConfig({ overrides: ['lr'] }), /not key=value/);
});

test('wrong types and ranges are rejected naming the key', () => {
  assert.throws(
    () => loadConfig({ overrides: ['train.batch_size=abc'] }),
    /'train\.batch_size' expects an integer, got 'abc'/,
  );
  assert.throws(
    () => loadConfig({ overrides: ['train.batch_size=2.5'] }),
    /'train\.batch_size' expects an integer/,
  );
  assert.throws(
    () => loadConfig({ overrides: ['ema.enabled=maybe'] }),
    /'ema\.enabled' expects true or false/,
  );
  assert.throws(
    () => loadConfig({ overrides: ['train.precision=fp8'] }),
    /'train\.precision' expects one of auto, fp32, bf16/,
  );
  assert.throws(
    () => loadConfig({ overrides: ['optim.betas=0.9'] }),
    /'optim\.betas' expects a list of 2 numbers/,
  );
  assert.throws(() => loadConfig({ overrides: ['optim.lr=-1'] }), /'optim\.lr' must be >= 0/);
  // AdamW's betas in [0, 1): 1 or more turned every weight into NaN at the first step
  for (const b of ['[1,1]', '[0.9,1]', '[-1,0.9]', '[0.9,1.5]'])
    assert.throws(
      () => loadConfig({ overrides: [`optim.betas=${b}`] }),
      /config key 'optim\.betas' takes numbers in \[0, 1\), got/,
      b,
    );
  assert.throws(
    () => loadConfig({ overrides: ['train.epochs=null'] }),
    /'train\.epochs' expects an integer/,
  );
  assert.throws(
    () => loadConfig({ overrides: ['model.variant=custom'] }),
    /'model\.stages' is required/,
  );
  // 2 input channels are grey + the word-boundary plane: data.word_boundary's job
  assert.throws(
    () => loadConfig({ overrides: ['model.in_channels=2'] }),
    /^ConfigError: config key 'model\.in_channels' is 1 \(grey\) or 3 \(colour RGB\), got 2; for a word-boundary channel keep 1 \(or 3\) and set data\.word_boundary=true$/,
  );
  assert.throws(
    () => configFromObject({ model: { in_channels: 2 } }),
    /config key 'model\.in_channels' is 1 \(grey\) or 3 \(colour RGB\), got 2/,
  );
  for (const c of [1, 3])
    assert.equal(loadConfig({ overrides: [`model.in_channels=${c}`] }).model.in_channels, c);
  assert.throws(
    () => loadConfig({ overrides: ['model.variant=custom', 'model.stages=1'] }),
    /config key 'model\.stages': stage row 0 '1': expected "expand,kernel,stride,in,out,layers,F\|M\|N"/,
  );
});

test('YAML files: types checked, unknown keys rejected, extends chains, overrides win', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-cfg-'));
  writeFileSync(join(dir, 'base.yaml'), 'optim:\n  lr: 0.002\ntrain:\n  epochs: 9\n');
  writeFileSync(join(dir, 'child.yaml'), 'extends: base.yaml\ntrain:\n  batch_size: 3\n');
  const c = loadConfig({ file: join(dir, 'child.yaml'), overrides: ['train.epochs=4'] });
  assert.equal(c.optim.lr, 0.002);
  assert.equal(c.train.batch_size, 3);
  assert.equal(c.train.epochs, 4);
  writeFileSync(join(dir, 'bad.yaml'), 'train:\n  batchsize: 3\n');
  assert.throws(
    () => loadConfig({ file: join(dir, 'bad.yaml') }),
    /bad\.yaml: unknown config key 'train\.batchsize' \(did you mean 'train\.batch_size'\?\)/,
  );
  writeFileSync(join(dir, 'bad2.yaml'), 'train:\n  batch_size: "16"\n');
  assert.throws(
    () => loadConfig({ file: join(dir, 'bad2.yaml') }),
    /'train\.batch_size' expects an integer, got '16'/,
  );
  writeFileSync(join(dir, 'loop.yaml'), 'extends: loop.yaml\n');
  assert.throws(() => loadConfig({ file: join(dir, 'loop.yaml') }), /cycle/);
  assert.throws(() => loadConfig({ file: join(dir, 'missing.yaml') }), /not found/);
});

test('resolved config round-trips through YAML', () => {
  const c = loadConfig({ overrides: ['optim.lr=0.003', 'data.words=7'] });
  assert.deepEqual(configFromObject(YAML.parse(configToYaml(c))), c);
});

test('every committed config file loads', () => {
  const files = readdirSync(configsDir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 4);
  for (const f of files) loadConfig({ file: join(configsDir, f) });
});
