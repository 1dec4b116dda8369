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
    // a missing tensor argument is named, not a TypeError from reading null.handle
    const x = ones([1, 1, 8, 8]),
      w = ones([1, 1, 3, 3]);
    const notTensor = null as unknown as E.Tensor;
    throwsTyped(() => x.add(notTensor), E.ArgumentError, /expected a Tensor, got null/);
    throwsTyped(() => F.conv2d(notTensor, w), E.ArgumentError, /expected a Tensor, got null/);
    throwsTyped(() => F.conv2d(x, w, [] as unknown as E.Tensor), E.ArgumentError, /an array/);
    // conv ints libtorch would overflow in int64 (dilation 2^62 gave an 8×8 output, no error)
    for (const o of [
      { dilation: 2 ** 62 },
      { dilation: [1, 2 ** 40] },
      { stride: 0 },
      { padding: -1 },
      { padding: 2 ** 31 },
      { stride: [1, 1, 1] },
      { groups: 1.5 },
    ])
      throwsTyped(
        () => F.conv2d(x, w, null, o),
        E.ArgumentError,
        /conv2d: (dilation|stride|padding|groups) must be/,
      );
    assert.deepEqual(F.conv2d(x, w, null, { dilation: 3 }).shape, [1, 1, 2, 2]);
  });
});

test("hasOp takes eflip's op keys; an ATen name or an unknown key is refused in one line, not answered false", () => {
  assert.equal(E.hasOp('conv3d'), true);
  assert.equal(E.hasOp('add'), true);
  for (const bad of ['aten::conv3d', 'aten::add.Tensor', 'conv4d', ''])
    throwsTyped(
      () => E.hasOp(bad as E.OpName),
      E.ArgumentError,
      /^hasOp\(".*"\): not one of eflip's op keys; hasOp takes the keys of src\/engine\/ops\.ts \('conv3d', 'add', 'sdpa', …\), not ATen names \('aten::conv3d'\)$/,
    );
});

test('the process keeps working after all of the above', () => {
  tidy(() => {
    const y = F.conv2d(E.randn([1, 2, 5, 5]), E.randn([3, 2, 3, 3]), null, { padding: 1 });
    assert.deepEqual(y.shape, [1, 3, 5, 5]);
    assert.equal(ones([4]).sum().item(), 4);
  });
});

test('audit of the API (round 2): what crashed, hung or passed silently now throws one typed line', () => {
  tidy(() => {
    // > 4 GiB as one ArrayBuffer: aborted the process (double free); now refused before copying
    const big = E.empty([2 ** 32 + 1], { dtype: 'uint8' });
    throwsTyped(() => big.bytes(), E.ArgumentError, /more than a JavaScript ArrayBuffer holds/);
    throwsTyped(() => big.toBytes(), E.ArgumentError, /more than a JavaScript ArrayBuffer holds/);
    big.dispose();
    // a JS array past V8's limit killed the process; leaves must be numbers or booleans
    throwsTyped(() => tensor(new Array(2 ** 26 + 1)), E.ArgumentError, /use|fromTypedArray/);
    throwsTyped(
      () => tensor(['a', 3] as never),
      E.ArgumentError,
      /numbers or booleans, got string/,
    );
    // thread counts past the machine's bound reached libgomp, which exited the process
    const threads = E.getNumThreads();
    throwsTyped(() => E.setNumThreads(1e9), E.ArgumentError, /at most \d+ on this machine/);
    assert.equal(E.getNumThreads(), threads);
    // a 1-d pool window larger than the input: empty/wrong output, or no end (k = 2^62)
    const x = E.randn([1, 2, 8]);
    throwsTyped(
      () => F.maxPool1d(x, 9),
      E.ShapeError,
      /kernel 9 .*spans 9 values, more than the 8/,
    );
    throwsTyped(() => F.maxPool1d(x, 2 ** 62), E.ShapeError, /more than the 8/);
    assert.deepEqual(F.maxPool1d(x, 8).shape, [1, 2, 1]);
    // reflect padding of the wrong rank put every value of the tensor in the message
    throwsTyped(
      () => F.pad(E.randn([4, 3, 8, 8]), [2, 2], 'reflect'),
      E.ShapeError,
      /needs a 2-d or 3-d input/,
    );
    throwsTyped(() => F.pad(x, [1, 1], 'circular' as never), E.ArgumentError, /mode must be/);
    // multi-line libtorch messages become one line; an empty index list an internal assert
    for (const fn of [() => E.foreachSqrt([]), () => x.index([])])
      assert.throws(
        fn,
        (e: unknown) => e instanceof E.EngineError && !(e as Error).message.includes('\n'),
      );
    // integers: 0.5, NaN and 2^70 were truncated or saturated without a word
    throwsTyped(() => x.narrow(2, 0.5, 1), E.ArgumentError, /expected an integer, got 0\.5/);
    throwsTyped(() => E.manualSeed(NaN), E.ArgumentError, /expected an integer/);
    throwsTyped(() => x.softmax(2 ** 70), E.ArgumentError, /outside the int64 range/);
    // a view of a SharedArrayBuffer: was a bare "Invalid argument"
    const shared = new Float32Array(new SharedArrayBuffer(8));
    shared.set([1.5, -2]);
    assert.deepEqual(
      Array.from(E.fromTypedArray(shared).toTypedArray() as Float32Array),
      [1.5, -2],
    );
    throwsTyped(() => x.contiguous('foo' as never), E.ArgumentError, /unknown memory format "foo"/);
    // a gradient of another shape or kind is refused as torch refuses it
    const p = E.zeros([3]).requiresGrad_();
    throwsTyped(
      () => (p.grad = ones([2, 3])),
      E.ShapeError,
      /assigned \[2, 3\] to a tensor of shape \[3\]/,
    );
    throwsTyped(() => (p.grad = 5 as never), E.ArgumentError, /expected a Tensor or null/);
    // linear with 0 input features: zeros, as torch gives (the 1×1-conv path threw)
    assert.deepEqual(
      Array.from(F.linear(ones([2, 0]), ones([3, 0])).toTypedArray() as Float32Array),
      [0, 0, 0, 0, 0, 0],
    );
  });
});

test('a creation or norm call that throws leaves no tensor behind (no garbage collection needed)', () => {
  const w32 = ones([4]);
  const before = E.liveTensors();
  for (let i = 0; i < 20; i++) {
    assert.throws(() => zeros([10], { dtype: 'int64', requiresGrad: true }));
    assert.throws(() => tensor([1, 2], { dtype: 'int32', requiresGrad: true }));
    if (!E.cuda.isAvailable())
      assert.throws(() => E.fromTypedArray(new Float32Array(4), [4], { device: 'cuda' }));
    // a bf16 input meeting a float32 weight is upcast first; the upcast is freed when the op throws
    const r = E.randn([2, 3]);
    const x = r.to('bfloat16');
    r.dispose();
    assert.throws(() => F.layerNorm(x, [5], w32));
    x.dispose();
  }
  assert.equal(E.liveTensors(), before, 'live tensors after the failed calls');
  w32.dispose();
});
