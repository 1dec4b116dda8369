// Finite-difference gradient checks in float64: autograd through the engine must agree with
// central differences of the same engine computation (conv3d, batch norm, layer norm and
// attention-like matmul chains).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../src/engine/index.js';
import { Tensor, F, tidy, noGrad } from '../src/engine/index.js';

/** max |analytic - numeric| / (1 + |numeric|) over all inputs of L = sum(fn(xs) * cos(arange)). */
function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  shapes: number[][],
  seed: number,
  eps = 1e-6,
): number {
  return tidy(() => {
    E.manualSeed(seed);
    const xs = shapes.map((s) => E.randn(s, { dtype: 'float64' }).requiresGrad_());
    const loss = (): Tensor => {
      const y = fn(...xs);
      return y.mul(E.arange(0, y.numel, 1, { dtype: 'float64' }).cos().reshape(y.shape)).sum();
    };
    loss().backward();
    const analytic = xs.map((x) => x.grad!.toTypedArray() as Float64Array);
    let worst = 0;
    noGrad(() => {
      xs.forEach((x, k) => {
        const data = x.dataView() as Float64Array; // zero-copy: perturb in place
        for (let j = 0; j < data.length; j++) {
          const keep = data[j];
          data[j] = keep + eps;
          const up = tidy(() => loss().item());
          data[j] = keep - eps;
          const down = tidy(() => loss().item());
          data[j] = keep;
          const numeric = (up - down) / (2 * eps);
          worst = Math.max(worst, Math.abs(analytic[k][j] - numeric) / (1 + Math.abs(numeric)));
        }
      });
    });
    return worst;
  });
}

const TOL = 1e-6;

test('gradcheck conv3d (stride, padding, groups, dilation)', () => {
  const e1 = gradcheck(
    (x, w, b) => F.conv3d(x, w, b, { stride: [1, 2, 2], padding: [1, 2, 2] }),
    [[1, 2, 3, 5, 5], [3, 2, 3, 3, 3], [3]],
    1,
  );
  assert.ok(e1 < TOL, `conv3d: ${e1}`);
  const e2 = gradcheck(
    (x, w) => F.conv3d(x, w, null, { padding: 2, dilation: 2, groups: 2 }),
    [
      [1, 4, 3, 4, 4],
      [2, 2, 2, 2, 2],
    ],
    2,
  );
  assert.ok(e2 < TOL, `conv3d groups/dilation: ${e2}`);
});

test('gradcheck batch_norm (training statistics) and layer_norm', () => {
  const bn = gradcheck(
    (x, w, b) => F.batchNorm(x, null, null, w, b, { training: true }),
    [[3, 2, 4], [2], [2]],
    3,
  );
  assert.ok(bn < TOL, `batch_norm: ${bn}`);
  const bn3 = gradcheck(
    (x, w, b) =>
      F.batchNorm(x, E.zeros([2], { dtype: 'float64' }), E.ones([2], { dtype: 'float64' }), w, b, {
        training: true,
        momentum: 0.01,
      }),
    [[2, 2, 2, 3, 3], [2], [2]],
    4,
  );
  assert.ok(bn3 < TOL, `batch_norm3d: ${bn3}`);
  const ln = gradcheck((x, w, b) => F.layerNorm(x, [4], w, b), [[2, 3, 4], [4], [4]], 5);
  assert.ok(ln < TOL, `layer_norm: ${ln}`);
});

test('gradcheck attention-like matmul chains', () => {
  const attn = gradcheck(
    (x, wq, wk, wv) => {
      const q = x.matmul(wq),
        k = x.matmul(wk),
        v = x.matmul(wv);
      return q.matmul(k.transpose(-2, -1)).mul(0.5).softmax(-1).matmul(v);
    },
    [
      [2, 3, 4],
      [4, 4],
      [4, 4],
      [4, 4],
    ],
    6,
  );
  assert.ok(attn < TOL, `attention: ${attn}`);
  const chain = gradcheck(
    (a, b, c) => a.bmm(b).relu().bmm(c).tanh(),
    [
      [2, 3, 4],
      [2, 4, 5],
      [2, 5, 2],
    ],
    7,
  );
  assert.ok(chain < TOL, `bmm chain: ${chain}`);
});

test('gradcheck detects a wrong gradient', () => {
  // detach() hides part of the dependency, so autograd's gradient differs from the numeric one
  const e = gradcheck((x) => x.mul(x.detach()), [[3, 3]], 8);
  assert.ok(e > 0.1, `expected a mismatch, got ${e}`);
});
