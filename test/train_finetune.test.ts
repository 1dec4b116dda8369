import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tidy } from '../src/engine/index.js';
import { writeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { loadConfig } from '../src/train/config.js';
import { modelConfigFor } from '../src/train/model_config.js';
import { loadPretrained, loadForEval } from '../src/train/model_io.js';
import { createModel } from '../src/model/weights.js';
import { exportModelFile } from '../src/train/demo_model.js';

const tiny = [
  'data.size=16',
  'data.frames=4',
  'model.feature_dim=16',
  'model.tcn_channels=16',
  'model.transformer_heads=2',
];
const configs = new URL('../../configs/', import.meta.url).pathname;

function save(path: string, m: ReturnType<typeof createModel>, meta: Record<string, string>): void {
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
  writeSafetensors(path, entries, meta);
}

test('fine-tuning with a different class count re-initialises only the head and reports it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-ft-'));
  const cfg = loadConfig({ file: join(configs, 'synth.yaml'), overrides: tiny });
  const a = createModel(modelConfigFor(cfg, 2), { seed: 1 });
  const path = join(dir, 'a.ckpt');
  save(path, a, {
    config: JSON.stringify(modelConfigFor(cfg, 2)),
    labels: JSON.stringify(['x', 'y']),
  });
  const b = createModel(modelConfigFor(cfg, 3), { seed: 2 });
  const headBefore = tidy(() => b.stateDict().get('fc_layer.weight')!.toArrayFlat());
  const rep = loadPretrained(b, path);
  assert.equal(rep.source, 'model');
  assert.deepEqual(rep.skippedHead.map((s) => s.split(' ')[0]).sort(), [
    'fc_layer.bias',
    'fc_layer.weight',
  ]);
  assert.match(rep.skippedHead.join(), /fc_layer\.weight \[2, 16\] → \[3, 16\]/);
  const sa = a.stateDict(),
    sb = b.stateDict();
  for (const [k, t] of sb) {
    if (k.startsWith('fc_layer.')) continue;
    assert.deepEqual(
      tidy(() => t.toArrayFlat()),
      tidy(() => sa.get(k)!.toArrayFlat()),
      k,
    );
  }
  assert.deepEqual(
    tidy(() => sb.get('fc_layer.weight')!.toArrayFlat()),
    headBefore,
    'head keeps its fresh init',
  );
  // a model file exported from a checkpoint loads for evaluation with its labels
  const out = join(dir, 'model.safetensors');
  exportModelFile(path, out);
  const e = loadForEval(out);
  assert.deepEqual(e.labels, ['x', 'y']);
  assert.equal(e.source, 'plain');
  a.dispose();
  b.dispose();
  e.model.dispose();
});

test("fine-tuning a model made with attention 'self' (an imported reference checkpoint) under model.attention time reports the switch", () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-ft-'));
  const selfCfg = modelConfigFor(
    loadConfig({ file: join(configs, 'synth.yaml'), overrides: [...tiny, 'model.attention=self'] }),
    2,
  );
  assert.equal(selfCfg.attention, 'self');
  const a = createModel(selfCfg, { seed: 1 });
  const path = join(dir, 'self.ckpt');
  save(path, a, { config: JSON.stringify(selfCfg), labels: JSON.stringify(['x', 'y']) });
  const b = createModel(
    modelConfigFor(loadConfig({ file: join(configs, 'synth.yaml'), overrides: tiny }), 2),
    { seed: 2 },
  );
  assert.equal(loadPretrained(b, path).attentionChanged, 'self → time');
  const c = createModel(selfCfg, { seed: 3 });
  assert.equal(
    loadPretrained(c, path).attentionChanged,
    undefined,
    'same regime: nothing to report',
  );
  a.dispose();
  b.dispose();
  c.dispose();
});
