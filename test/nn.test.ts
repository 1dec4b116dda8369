// nn building blocks: Module bookkeeping, PyTorch default initialisations, and
// MultiheadAttention (self/cross, masks) against torch.nn.MultiheadAttention.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  tidy,
  noGrad,
  randn,
  manualSeed,
  fromBytes,
  liveTensors,
  type Tensor,
} from '../src/engine/index.js';
import {
  Module,
  Sequential,
  ModuleList,
  Conv2d,
  Conv1d,
  Linear,
  BatchNorm2d,
  PReLU,
  ReLU,
  Dropout,
  MultiheadAttention,
  TransformerEncoderLayer,
} from '../src/nn/index.js';
import {
  readSafetensors,
  writeSafetensors,
  rawToFloat32,
  type RawTensor,
} from '../src/io/safetensors.js';
import { tensorToRaw } from '../src/model/weights.js';
import { hasTorch, py, tempDir } from './model_helpers.js';

const { dir, cleanup } = tempDir('nn');
after(cleanup);
const noTorch = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
const values = (t: Tensor): Float32Array => rawToFloat32(tensorToRaw(t));
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

class Block extends Module {
  readonly conv = this.registerModule('conv', new Conv2d(4, 8, 3, { padding: 1 }));
  readonly bn = this.registerModule('bn', new BatchNorm2d(8));
  readonly heads = this.registerModule(
    'heads',
    new ModuleList([new Linear(8, 2), new Linear(8, 3, { bias: false })]),
  );
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x));
  }
}

test('Module: dotted names in PyTorch order, modes, counting, zeroGrad, dispose', () => {
  const before = liveTensors();
  const m = new Sequential(
    { stem: new Block(), act: new ReLU(), drop: new Dropout(0.1) },
    new PReLU(8),
  );
  assert.deepEqual(
    [...m.stateDict().keys()],
    [
      'stem.conv.weight',
      'stem.conv.bias',
      'stem.bn.weight',
      'stem.bn.bias',
      'stem.bn.running_mean',
      'stem.bn.running_var',
      'stem.bn.num_batches_tracked',
      'stem.heads.0.weight',
      'stem.heads.0.bias',
      'stem.heads.1.weight',
      '3.weight',
    ],
  );
  assert.deepEqual(
    [...m.namedBuffers()].map(([n]) => n),
    ['stem.bn.running_mean', 'stem.bn.running_var', 'stem.bn.num_batches_tracked'],
  );
  assert.equal(m.numParameters(), 4 * 8 * 9 + 8 + 16 + 8 * 2 + 2 + 8 * 3 + 8);
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  m.eval();
  assert.ok([...m.modules()].every((x) => !x.training));
  m.train();
  assert.ok([...m.modules()].every((x) => x.training));
  tidy(() =>
    m
      .forward(randn([2, 4, 5, 5]))
      .sum()
      .backward(),
  );
  tidy(() => assert.ok(m.parameters().filter((p) => p.grad).length >= 5)); // .grad returns a fresh handle
  m.zeroGrad();
  tidy(() => assert.ok(m.parameters().every((p) => !p.grad || maxAbs(values(p.grad)) === 0)));
  assert.match(m.toString(), /stem\.conv: Conv2d\(4, 8, k=3x3/);
  m.dispose();
  assert.equal(liveTensors(), before);
});

test('PyTorch default initialisations', () => {
  manualSeed(0);
  const c = new Conv2d(16, 32, 3); // fan_in 144: U(±1/12)
  const w = values(c.weight);
  const bound = 1 / Math.sqrt(144);
  assert.ok(
    maxAbs(w) <= bound && maxAbs(w) > 0.95 * bound,
    `conv weight within ±${bound}: ${maxAbs(w)}`,
  );
  assert.ok(maxAbs(values(c.bias!)) <= bound);
  const l = new Linear(100, 50);
  assert.ok(maxAbs(values(l.weight)) <= 0.1 && maxAbs(values(l.weight)) > 0.09);
  const c1 = new Conv1d(10, 4, 5);
  assert.ok(maxAbs(values(c1.weight)) <= 1 / Math.sqrt(50));
  const bn = new BatchNorm2d(3);
  const sd = bn.stateDict();
  assert.deepEqual([...values(sd.get('weight')!)], [1, 1, 1]);
  assert.deepEqual([...values(sd.get('bias')!)], [0, 0, 0]);
  assert.deepEqual([...values(sd.get('running_var')!)], [1, 1, 1]);
  assert.deepEqual([...values(new PReLU().weight)], [0.25]);
  const mha = new MultiheadAttention(64, 8);
  const xb = Math.sqrt(6 / (64 + 192));
  const ipw = values(mha.stateDict().get('in_proj_weight')!);
  assert.ok(maxAbs(ipw) <= xb && maxAbs(ipw) > 0.95 * xb, 'xavier-uniform in_proj_weight');
  assert.equal(maxAbs(values(mha.stateDict().get('in_proj_bias')!)), 0);
  assert.equal(maxAbs(values(mha.stateDict().get('out_proj.bias')!)), 0);
  const enc = new TransformerEncoderLayer(64, 8, 32);
  assert.deepEqual(
    [...enc.stateDict().keys()],
    [
      'self_attn.in_proj_weight',
      'self_attn.in_proj_bias',
      'self_attn.out_proj.weight',
      'self_attn.out_proj.bias',
      'linear1.weight',
      'linear1.bias',
      'linear2.weight',
      'linear2.bias',
      'norm1.weight',
      'norm1.bias',
      'norm2.weight',
      'norm2.bias',
    ],
  );
  for (const x of [c, l, c1, bn, mha, enc]) x.dispose();
});

test(
  'MultiheadAttention equals torch.nn.MultiheadAttention (self, cross, boolean masks)',
  { skip: noTorch },
  () => {
    manualSeed(4);
    const [B, L, S, d, H] = [2, 5, 7, 32, 4];
    const mha = new MultiheadAttention(d, H).eval();
    noGrad(() => mha.stateDict().get('in_proj_bias')!.normal_(0, 0.1));
    const io = join(dir, 'mha_in.safetensors');
    const attnMask = new Uint8Array(L * S);
    attnMask[3] = attnMask[S + 5] = attnMask[4 * S] = 1; // a few (query, key) pairs forbidden
    const padMask = new Uint8Array(B * S);
    padMask[S + S - 1] = padMask[S + S - 2] = 1; // clip 1 has two padded keys
    const entries: [string, RawTensor][] = [...mha.stateDict()].map(([k, t]) => [
      `mha.${k}`,
      tensorToRaw(t),
    ]);
    const q = randn([B, L, d]),
      k = randn([B, S, d]),
      v = randn([B, S, d]);
    entries.push(
      ['q', tensorToRaw(q)],
      ['k', tensorToRaw(k)],
      ['v', tensorToRaw(v)],
      ['attn_mask', { dtype: 'uint8', shape: [L, S], data: attnMask }],
      ['key_padding_mask', { dtype: 'uint8', shape: [B, S], data: padMask }],
    );
    writeSafetensors(io, entries, { embed: String(d), heads: String(H) });
    const out = join(dir, 'mha_out.safetensors');
    py('model_layers.py', ['mha', '--io', io, '--out', out]);
    const ref = readSafetensors(out).tensors;
    noGrad(() =>
      tidy(() => {
        const self = values(mha.forward(q));
        const cross = values(
          mha.forward(q, k, v, {
            attnMask: fromBytes(attnMask, 'bool', [L, S]),
            keyPaddingMask: fromBytes(padMask, 'bool', [B, S]),
          }),
        );
        const ds = maxAbs(self.map((x, i) => x - rawToFloat32(ref.get('self')!)[i]));
        const dc = maxAbs(cross.map((x, i) => x - rawToFloat32(ref.get('cross')!)[i]));
        assert.ok(ds < 1e-5, `self-attention differs by ${ds}`);
        assert.ok(dc < 1e-5, `masked cross-attention differs by ${dc}`);
      }),
    );
    for (const t of [q, k, v]) t.dispose();
    mha.dispose();
  },
);
