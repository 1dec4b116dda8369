// `eflip import` of a PyTorch checkpoint from a stranger: weights a loader would refuse are not
// written (NaN, a float64 beyond float32's range), the file's strings reach the terminal
// escaped and clipped, and a checkpoint whose tensors do not fit is refused in one line.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hasTorch, PYTHON, ROOT } from './model_helpers.js';
import { assertRefused, runEflip, tempDir } from './hostile_helpers.js';
import { execFileSync } from 'node:child_process';

const skip = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
const dir = tempDir('eflip-hostile-import-');
const DEMO = join(ROOT, 'assets/demo/model.safetensors');
const config = join(dir, 'config.json');
const labels = join(ROOT, 'assets/demo/labels.txt');

// the demo model's tensors as a torch state dict, edited per case
const CRAFT = `
import json, struct, sys, torch, collections
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
meta = h.pop('__metadata__')
open(sys.argv[2] + '/config.json', 'w').write(meta['config'])
dt = {'F32': torch.float32, 'I64': torch.int64}
sd = collections.OrderedDict()
for k, v in h.items():
    s, e = v['data_offsets']
    sd[k] = torch.frombuffer(bytearray(data[s:e]), dtype=dt[v['dtype']]).reshape(v['shape']).clone()
out = sys.argv[2]
nan = collections.OrderedDict(sd); w = nan['fc_layer.weight'].clone(); w[0, 0] = float('nan'); nan['fc_layer.weight'] = w
torch.save(nan, out + '/nan.pt')
big = collections.OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in sd.items())
big['fc_layer.weight'][0, 0] = 1e300
torch.save(big, out + '/f64big.pt')
torch.save({'epoch': '3\\n\\x1b[1;31mALL GOOD\\x1b[0m' + '9' * 100000, 'state_dict': collections.OrderedDict(('model.' + k, v) for k, v in sd.items())}, out + '/epoch.ckpt')
torch.save(collections.OrderedDict((k, torch.zeros(v.numel() + 1) if v.is_floating_point() else v) for k, v in sd.items()), out + '/misfit.pt')
`;

before(() => {
  if (skip) return;
  execFileSync(PYTHON, ['-c', CRAFT, DEMO, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
});

const importArgs = (file: string, out: string) => [
  'import',
  join(dir, file),
  '--out',
  join(dir, out),
  '--config',
  config,
  '--labels',
  labels,
];

test(
  'NaN weights, and float64 weights beyond float32, are refused and nothing is written',
  { skip },
  async () => {
    for (const [file, pattern] of [
      ['nan.pt', /weight 'fc_layer\.weight' contains NaN\/Inf \(element 0\)/],
      ['f64big.pt', /weight 'fc_layer\.weight' contains NaN\/Inf \(element 0\)/],
    ] as const) {
      const out = `${file}.safetensors`;
      assertRefused(await runEflip(importArgs(file, out)), pattern, { label: file });
      assert.ok(!existsSync(join(dir, out)), `${file}: nothing written`);
    }
  },
);

test(
  "the checkpoint's strings are printed escaped and clipped; tensors that do not fit: one line",
  { skip },
  async () => {
    const r = await runEflip(importArgs('epoch.ckpt', 'epoch.safetensors'));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\x1b/, 'no escape sequence reaches the terminal');
    assert.match(r.stdout, /epoch 3\\n\\x1b\[1;31mALL GOOD/);
    assert.ok(r.stdout.length < 4000, `${r.stdout.length} characters printed`);
    assertRefused(
      await runEflip(importArgs('misfit.pt', 'misfit.safetensors')),
      /tensors do not fit: .*; … \d+ more/,
    );
  },
);
