// Parity of the TypeScript network with the PyTorch reference (tools/torch_ref/lipreader.py),
// both loaded from the same safetensors weights: eval log-probs (T and B variants, batch 1
// and 4, 29 and 17 frames), train-mode gradients of the NLL loss and BN running statistics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  tidy,
  noGrad,
  randn,
  randint,
  manualSeed,
  setNumThreads,
  liveTensors,
  fromBytes,
  F,
  type Tensor,
} from '../src/engine/index.js';
import {
  readSafetensors,
  writeSafetensors,
  rawToFloat32,
  type RawTensor,
} from '../src/io/safetensors.js';
import { loadModel, tensorToRaw } from '../src/model/weights.js';
import { hasTorch, py, tempDir } from './model_helpers.js';

const { dir, cleanup } = tempDir('parity');
after(cleanup);
const skip = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
setNumThreads(2);

const flat = (t: Tensor | RawTensor): Float32Array =>
  'handle' in t ? rawToFloat32(tensorToRaw(t)) : rawToFloat32(t);
function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Inputs x<suffix> (B, 1, T, 88, 88) and targets, written for python and kept for TS. */
function makeInputs(shapes: [number, number][], file: string): Map<string, RawTensor> {
  manualSeed(1234);
  const entries = new Map<string, RawTensor>();
  shapes.forEach(([b, t], i) => {
    tidy(() => {
      entries.set(`x${i}`, tensorToRaw(randn([b, 1, t, 88, 88])));
      entries.set(`target${i}`, tensorToRaw(randint(0, 500, [b])));
    });
  });
  writeSafetensors(file, entries);
  return entries;
}

for (const variant of ['T', 'B']) {
  test(
    `eval parity with PyTorch, variant ${variant}: batch 1 and 4, 29 and 17 frames, within 1e-4`,
    { skip },
    (ctx) => {
      const w = join(dir, `${variant}.safetensors`);
      py('lipreader.py', [
        'init',
        '--variant',
        variant,
        '--classes',
        '500',
        '--seed',
        '7',
        '--random-bn',
        '--out',
        w,
      ]);
      const shapes: [number, number][] = [
        [1, 29],
        [4, 29],
        [1, 17],
        [4, 17],
      ];
      const inputs = makeInputs(shapes, join(dir, `x${variant}.safetensors`));
      const out = join(dir, `y${variant}.safetensors`);
      py('lipreader.py', [
        'forward',
        '--weights',
        w,
        '--input',
        join(dir, `x${variant}.safetensors`),
        '--out',
        out,
        '--features',
      ]);
      const ref = readSafetensors(out).tensors;
      const before = liveTensors();
      const { model } = loadModel(w);
      model.eval();
      shapes.forEach(([b, t], i) => {
        noGrad(() =>
          tidy(() => {
            const x = inputs.get(`x${i}`)!;
            const feats = model.forwardFeatures(fromRaw(x));
            assert.deepEqual(feats.shape, [b, t, 384]);
            const fd = maxDiff(flat(feats), flat(ref.get(`features${i}`)!));
            const y = model.forwardHead(feats);
            assert.deepEqual(y.shape, [b, 500], `batch ${b} keeps its dimension`);
            const d = maxDiff(flat(y), flat(ref.get(`logp${i}`)!));
            const msg = `${variant} B=${b} T=${t}: max |Δ log-prob| = ${d.toExponential(2)} (features ${fd.toExponential(2)})`;
            ctx.diagnostic(msg);
            assert.ok(d < 1e-4, msg);
          }),
        );
      });
      model.dispose();
      assert.equal(liveTensors(), before, 'no tensor leaked');
    },
  );
}

test(
  'train-mode parity (dropout off), variant T: NLL gradients within 1e-3 relative, BN running stats equal',
  { skip },
  (ctx) => {
    const w = join(dir, 'Ttrain.safetensors');
    py('lipreader.py', [
      'init',
      '--variant',
      'T',
      '--classes',
      '500',
      '--seed',
      '3',
      '--random-bn',
      '--out',
      w,
    ]);
    const inputs = makeInputs([[4, 21]], join(dir, 'xtrain.safetensors'));
    const out = join(dir, 'ytrain.safetensors');
    py('lipreader.py', [
      'forward',
      '--train',
      '--grads',
      '--weights',
      w,
      '--input',
      join(dir, 'xtrain.safetensors'),
      '--out',
      out,
    ]);
    const ref = readSafetensors(out).tensors;
    const file = readSafetensors(w);
    const cfg = JSON.parse(file.metadata.config);
    const { model } = loadModel(w, {
      config: {
        ...cfg,
        dropout: 0,
        dropPath: 0,
        transformer: { ...cfg.transformer, dropout: 0 },
        tcn: { ...cfg.tcn, dropout: 0 },
      },
    });
    model.train();
    tidy(() => {
      const y = model.forward(fromRaw(inputs.get('x0')!));
      const loss = F.nllLoss(y, fromRaw(inputs.get('target0')!));
      const dl = Math.abs(loss.item() - flat(ref.get('loss0')!)[0]);
      assert.ok(dl < 1e-4, `loss differs by ${dl}`);
      loss.backward();
    });
    // Biases feeding straight into a train-mode BatchNorm (conv3d bias, TCN conv biases, MBConv
    // point-wise BN biases before a 1×1 conv + BN) have an exactly-zero gradient; both sides give
    // float noise there, so those are checked absolutely (|g| < 1e-4·max|g|), all others relatively.
    const grads = [...model.namedParameters()].map(([name, p]) => {
      assert.ok(p.grad, `no gradient for ${name}`);
      const r = ref.get(`grad0.${name}`);
      assert.ok(r, `python has no gradient for ${name}`);
      return { name, ts: flat(p.grad), py: flat(r) };
    });
    assert.equal(grads.length, [...ref.keys()].filter((k) => k.startsWith('grad0.')).length);
    const gmax = Math.max(...grads.map((g) => maxAbs(g.py)));
    let worst = 0,
      worstName = '',
      zeroGrads = 0;
    for (const g of grads) {
      if (maxAbs(g.py) < 1e-4 * gmax) {
        zeroGrads++;
        assert.ok(
          maxAbs(g.ts) < 1e-4 * gmax,
          `${g.name}: expected a (numerically) zero gradient, got ${maxAbs(g.ts)}`,
        );
        continue;
      }
      const rel = maxDiff(g.ts, g.py) / maxAbs(g.py);
      if (rel > worst) {
        worst = rel;
        worstName = g.name;
      }
    }
    assert.ok(zeroGrads < grads.length / 4, `${zeroGrads} of ${grads.length} gradients are zero`);
    ctx.diagnostic(
      `worst relative gradient error ${worst.toExponential(2)} (${worstName}); ${zeroGrads} exactly-zero gradients checked absolutely`,
    );
    assert.ok(
      worst < 1e-3,
      `worst relative gradient error ${worst.toExponential(2)} at ${worstName}`,
    );
    let buffers = 0;
    for (const [name, b] of model.namedBuffers()) {
      const r = ref.get(`buffer.${name}`)!;
      assert.ok(r, `python lacks buffer ${name}`);
      const d = maxDiff(flat(b), flat(r));
      assert.ok(
        d <= 1e-5 * Math.max(1, maxAbs(flat(r))),
        `${name} running statistic differs by ${d}`,
      );
      buffers++;
    }
    assert.ok(buffers > 100);
    model.dispose();
  },
);

function fromRaw(r: RawTensor): Tensor {
  return fromBytes(r.data, r.dtype, r.shape);
}
