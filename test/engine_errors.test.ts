// Bad input never crashes the process: typed errors with useful, single-line-clean messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../src/engine/index.js';
import { F, tidy, tensor, ones, zeros } from '../src/engine/index.js';
import { native } from '../src/engine/native.js';
import { OP } from '../src/engine/ops.js';

function throwsTyped(fn: () => unknown, cls: new (...a: any[]) => Error, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof cls,
      `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
    );
    assert.ok(e instanceof E.EngineError);
    assert.match((e as Error).message, pattern);
    assert.doesNotMatch(
      (e as Error).message,
      /Exception raised from|frame #\d/,
      'no C++ backtrace in messages',
    );
    return true;
  });
}

test('shape mismatches', () => {
  tidy(() => {
    throwsTyped(
      () => ones([2, 3]).add(ones([4])),
      E.ShapeError,
      /size of tensor a \(3\) must match.*\(4\)/,
    );
    throwsTyped(
      () => ones([2, 3]).matmul(ones([4, 5])),
      E.ShapeError,
      /cannot be multiplied|2x3 and 4x5/,
    );
    throwsTyped(
      () => F.conv2d(ones([1, 3, 8, 8]), ones([4, 2, 3, 3])),
      E.ShapeError,
      /3 channels.*expects 2/,
    );
    throwsTyped(
      () => F.conv3d(ones([3, 8, 8]), ones([4, 3, 3, 3, 3])),
      E.ShapeError,
      /conv3d: input must be 5-d/,
    );
    throwsTyped(
      () => F.linear(ones([2, 5]), ones([3, 4])),
      E.ShapeError,
      /linear: input \[2, 5\] and weight \[3, 4\]/,
    );
    throwsTyped(
      () => E.cat([ones([2, 3]), ones([2, 4])], 0),
      E.ShapeError,
      /Sizes of tensors must match/,
    );
    throwsTyped(() => ones([6]).view([4, 2]), E.ShapeError, /invalid for input of size 6/);
    throwsTyped(
      () => E.fromTypedArray(new Float32Array(5), [2, 3]),
      E.ShapeError,
      /5 elements cannot have shape \[2, 3\]/,
    );
    throwsTyped(() => zeros([2, -1]), E.ShapeError, /non-negative/);
  });
});

test('wrong dtypes', () => {
  tidy(() => {
    throwsTyped(
      () => ones([2, 2]).matmul(ones([2, 2], { dtype: 'int64' })),
      E.DTypeError,
      /dtype|scalar type/i,
    );
    throwsTyped(
      () => F.nllLoss(ones([3, 4]).logSoftmax(1), ones([3])),
      E.DTypeError,
      /Long|scalar type|dtype/i,
    );
    throwsTyped(() => E.arange(5).sqrt_(), E.DTypeError, /can't be cast/);
    throwsTyped(() => E.fromTypedArray(new Uint16Array(4)), E.ArgumentError, /float16/);
    throwsTyped(
      () => zeros([2], { dtype: 'complex64' as E.DType }),
      E.DTypeError,
      /unknown dtype 'complex64'/,
    );
  });
});

test('disposed tensors', () => {
  const t = ones([3]);
  assert.deepEqual(t.shape, [3]); // cached shape must not survive dispose
  t.dispose();
  t.dispose(); // idempotent
  throwsTyped(() => t.add(1), E.DisposedError, /after dispose/);
  throwsTyped(() => ones([3]).add(t), E.DisposedError, /after dispose/);
  throwsTyped(() => t.shape, E.DisposedError, /after dispose/);
  const escaped = tidy(() => ones([2]));
  const inner = { t: null as E.Tensor | null };
  tidy(() => {
    inner.t = ones([2]);
  });
  throwsTyped(() => inner.t!.sum(), E.DisposedError, /tidy\(\) scope ended/);
  assert.equal(escaped.sum().item(), 2);
  escaped.dispose();
  // a raw stale handle at the native boundary is rejected too
  throwsTyped(() => native.call(OP.neg, 123456), E.DisposedError, /not live/);
});

test('devices', () => {
  throwsTyped(() => zeros([2], { device: 'tpu:0' }), E.DeviceError, /unknown device 'tpu:0'/);
  throwsTyped(() => ones([2]).to({ device: 'gpu' }), E.DeviceError, /unknown device/);
  if (!E.cuda.isAvailable()) {
    throwsTyped(() => zeros([2], { device: 'cuda' }), E.DeviceError, /CUDA is not available/);
    throwsTyped(() => ones([2]).cuda(), E.DeviceError, /CUDA is not available/);
    throwsTyped(() => E.cuda.memInfo(), E.DeviceError, /CUDA is not available/);
    throwsTyped(() => E.autocast(() => 0, { device: 'cuda' }), E.DeviceError, /CUDA/);
  } else {
    throwsTyped(
      () => zeros([2], { device: `cuda:${E.cuda.deviceCount()}` }),
      E.DeviceError,
      /only \d+ CUDA device/,
    );
  }
});

test('out-of-range indices', () => {
  tidy(() => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    throwsTyped(
      () => x.indexSelect(1, tensor([3], { dtype: 'int64' })),
      E.IndexError,
      /out of range/,
    );
    throwsTyped(() => x.select(0, 5), E.IndexError, /out of range/);
    throwsTyped(
      () => x.gather(1, tensor([[0], [7]], { dtype: 'int64' })),
      E.IndexError,
      /out of bounds|out of range/,
    );
    throwsTyped(() => x.sum({ dim: 4 }), E.IndexError, /out of range/);
    throwsTyped(() => x.size(2), E.ShapeError, /out of range/);
    throwsTyped(
      () => F.crossEntropy(ones([2, 3]), tensor([0, 9], { dtype: 'int64' })),
      E.IndexError,
      /out of bounds|out of range/,
    );
  });
});

test('impossible allocations', () => {
  throwsTyped(() => zeros([1e12]), E.OutOfMemoryError, /allocate/);
  throwsTyped(() => zeros([2 ** 40, 2 ** 40]), E.TorchError, /overflow/);
});

test('bad JS arguments at the native boundary', () => {
  tidy(() => {
    throwsTyped(
      () => native.call(OP.add, ones([2]).handle, 'x' as unknown as number),
      E.ArgumentError,
      /expected a tensor/,
    );
    throwsTyped(
      () => native.call(OP.reshape, ones([2]).handle),
      E.ArgumentError,
      /aten::reshape argument 'shape' is required/,
    );
    throwsTyped(() => native.call(-1), E.ArgumentError, /not available/);
    throwsTyped(() => E.tensor([[1, 2], [3]]), E.ShapeError, /ragged/);
  });
});

test('the process keeps working after all of the above', () => {
  tidy(() => {
    const y = F.conv2d(E.randn([1, 2, 5, 5]), E.randn([3, 2, 3, 3]), null, { padding: 1 });
    assert.deepEqual(y.shape, [1, 3, 5, 5]);
    assert.equal(ones([4]).sum().item(), 4);
  });
});
