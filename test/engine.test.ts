// Engine smoke tests: creation, math, autograd, scopes, typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../src/engine/index.js';

const { tensor, zeros, ones, randn, tidy, keep, F, liveTensors } = E;

test('creation, metadata and data round-trip', () => {
  tidy(() => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.equal(t.device, 'cpu');
    assert.deepEqual(t.toArrayFlat(), [1, 2, 3, 4, 5, 6]);
    assert.ok(t.toTypedArray() instanceof Float32Array);
    const i = E.fromTypedArray(new BigInt64Array([1n, 2n]), [2]);
    assert.equal(i.dtype, 'int64');
    assert.deepEqual(E.arange(5).toArrayFlat(), [0, 1, 2, 3, 4]);
    assert.equal(E.full([2, 2], 7).sum().item(), 28);
  });
});

test('broadcasting math, reductions and shape ops', () => {
  tidy(() => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([10, 20]);
    assert.deepEqual(a.add(b).toArray(), [
      [11, 22],
      [13, 24],
    ]);
    assert.deepEqual(a.mul(2).sub(1).toArray(), [
      [1, 3],
      [5, 7],
    ]);
    assert.deepEqual(a.sum({ dim: 1 }).toArray(), [3, 7]);
    assert.deepEqual(a.max({ dim: 0 }).values.toArray(), [3, 4]);
    assert.deepEqual(a.transpose(0, 1).contiguous().toArray(), [
      [1, 3],
      [2, 4],
    ]);
    assert.deepEqual(E.cat([a, a], 0).shape, [4, 2]);
    assert.deepEqual(E.where(a.gt(2), a, 0).toArray(), [
      [0, 0],
      [3, 4],
    ]);
  });
});

test('autograd through conv3d + batchNorm', () => {
  E.manualSeed(1);
  tidy(() => {
    const x = randn([2, 1, 3, 8, 8]);
    const w = randn([4, 1, 3, 5, 5]).requiresGrad_();
    const rm = zeros([4]),
      rv = ones([4]);
    const y = F.batchNorm(
      F.conv3d(x, w, null, { stride: [1, 2, 2], padding: [1, 2, 2] }),
      rm,
      rv,
      null,
      null,
      { training: true },
    );
    assert.deepEqual(y.shape, [2, 4, 3, 4, 4]);
    y.relu().mean().backward();
    const g = w.grad!;
    assert.deepEqual(g.shape, [4, 1, 3, 5, 5]);
    assert.ok(g.abs().sum().item() > 0);
    assert.ok(rm.abs().sum().item() > 0, 'running mean updated in place');
  });
});

test('tidy disposes intermediates, keeps returned and kept tensors', () => {
  const before = liveTensors();
  let kept!: E.Tensor;
  const out = tidy(() => {
    const a = ones([3]);
    kept = keep(a.mul(3));
    a.add(1);
    return { r: a.add(2) };
  });
  assert.equal(liveTensors(), before + 2);
  assert.equal(out.r.sum().item(), 9);
  out.r.dispose();
  kept.dispose();
  assert.ok(liveTensors() <= before + 1);
  assert.throws(() => kept.add(1), E.DisposedError);
});

test('bad input raises typed errors and the process keeps working', () => {
  tidy(() => {
    assert.throws(() => ones([2, 3]).add(ones([4])), E.ShapeError);
    assert.throws(() => zeros([2], { device: 'cuda' }), E.DeviceError);
    assert.throws(() => zeros([2], { device: 'gpu0' }), E.DeviceError);
    assert.throws(
      () => tensor([1, 2]).indexSelect(0, tensor([7], { dtype: 'int64' })),
      E.IndexError,
    );
    assert.equal(ones([2]).sum().item(), 2);
  });
});
