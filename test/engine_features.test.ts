// dtypes, raw bytes (zero-copy views), memory formats, autocast, grad modes, seeding, threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as E from '../src/engine/index.js';
import { F, tidy, tensor, ones, noGrad, enableGrad } from '../src/engine/index.js';
import { native } from '../src/engine/native.js';

test('dtypes convert and round-trip through typed arrays', () => {
  tidy(() => {
    const x = tensor([1.5, -2.25, 3]);
    for (const dt of ['float16', 'bfloat16', 'float64', 'float32'] as E.DType[]) {
      const y = x.to(dt);
      assert.equal(y.dtype, dt);
      assert.deepEqual(Array.from(y.toTypedArray() as Float32Array), [1.5, -2.25, 3], dt);
    }
    assert.ok(x.half().toTypedArray() instanceof Float32Array, 'half widens to Float32Array');
    assert.deepEqual(Array.from(x.to('int32').toTypedArray() as Int32Array), [1, -2, 3]);
    assert.deepEqual(Array.from(x.to('int64').toTypedArray() as BigInt64Array), [1n, -2n, 3n]);
    assert.deepEqual(Array.from(x.gt(0).toTypedArray() as Uint8Array), [1, 0, 1]);
    assert.equal(x.gt(0).dtype, 'bool');
    assert.equal(tensor([200, 3], { dtype: 'uint8' }).sum().item(), 203);
    assert.equal(tensor([true, false, true]).dtype, 'bool');
    // raw float16 bits in, same bits out
    const bits = new Uint16Array([0x3c00, 0xc000]); // 1.0, -2.0
    const h = E.fromTypedArray(bits, [2], { dtype: 'float16' });
    assert.deepEqual(Array.from(h.toTypedArray() as Float32Array), [1, -2]);
    assert.deepEqual(Array.from(new Uint16Array(h.toBytes().buffer)), [0x3c00, 0xc000]);
  });
});

test('raw bytes: fromBytes copies, bytes()/dataView() alias the storage (zero-copy)', () => {
  tidy(() => {
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = E.fromBytes(new Uint8Array(src.buffer), 'float32', [2, 3]);
    src[0] = 100; // t owns its own copy
    assert.equal(t.toArrayFlat()[0], 1);
    const view = t.dataView() as Float32Array;
    view[1] = 42; // writes through into the tensor
    assert.equal(t.toArrayFlat()[1], 42);
    assert.equal(t.bytes().byteLength, 24);
    const copy = t.toBytes();
    copy[0] = 0;
    assert.equal(t.toArrayFlat()[0], 1, 'toBytes is a copy');
    // load pattern for checkpoints: allocate, then fill the storage directly
    const e = E.empty([3], { dtype: 'int32' });
    (e.dataView() as Int32Array).set([7, 8, 9]);
    assert.deepEqual(e.toArrayFlat(), [7, 8, 9]);
    assert.throws(() => t.t().bytes(), /not contiguous/);
  });
});

test('memory formats: channels-last control', () => {
  tidy(() => {
    const x = E.randn([2, 3, 5, 5]);
    assert.ok(x.isContiguous());
    const cl = x.contiguous('channelsLast');
    assert.ok(cl.isContiguous('channelsLast'));
    assert.ok(!cl.isContiguous());
    assert.deepEqual(cl.strides, [75, 1, 15, 3]);
    assert.ok(cl.equal(x), 'same values');
    const y = F.conv2d(cl, E.randn([4, 3, 3, 3]).contiguous('channelsLast'), null, { padding: 1 });
    assert.ok(y.isContiguous('channelsLast'), 'conv keeps channels-last');
    const yRef = F.conv2d(x, E.randn([4, 3, 3, 3]).mul(0).add(1), null, { padding: 1 });
    const yCl = F.conv2d(cl, E.ones([4, 3, 3, 3]).contiguous('channelsLast'), null, { padding: 1 });
    assert.ok(yCl.allclose(yRef, 1e-5, 1e-5), 'same values in either layout');
    const v = E.randn([1, 2, 3, 4, 4]).contiguous('channelsLast3d');
    assert.ok(v.isContiguous('channelsLast3d'));
    assert.ok(E.empty([1, 2, 3, 3], { memoryFormat: 'channelsLast' }).isContiguous('channelsLast'));
  });
});

test('autocast: bfloat16 compute on CPU inside the scope only', () => {
  tidy(() => {
    const x = E.randn([2, 3, 8, 8]),
      w = E.randn([4, 3, 3, 3]);
    const [conv, lin, sm] = E.autocast(() => {
      assert.ok(E.isAutocastEnabled('cpu'));
      const c = F.conv2d(x, w);
      const l = F.linear(E.randn([2, 5]), E.randn([3, 5]));
      return [c, l, c.float().softmax(1)];
    });
    assert.equal(conv.dtype, 'bfloat16');
    assert.equal(lin.dtype, 'bfloat16');
    assert.equal(sm.dtype, 'float32');
    assert.ok(!E.isAutocastEnabled('cpu'));
    assert.equal(F.conv2d(x, w).dtype, 'float32');
    const ref = F.conv2d(x, w);
    assert.ok(
      conv.float().sub(ref).abs().max().item() < 0.1 * ref.abs().max().item(),
      'bf16 result close to fp32',
    );
    assert.throws(() => E.autocast(() => 0, { dtype: 'float16' }), /bfloat16 only/);
    // norms with float32 parameters accept the bf16 activations autocast produces
    const lw = E.randn([5, 4]).requiresGrad_(),
      g = E.ones([5]).requiresGrad_();
    const ln = E.autocast(() => F.layerNorm(F.linear(E.randn([2, 4]), lw), [5], g, E.zeros([5])));
    assert.equal(ln.dtype, 'float32');
    ln.sum().backward();
    assert.ok(lw.grad !== null && g.grad !== null);
    const gn = E.autocast(() => F.groupNorm(F.conv2d(x, w), 2, E.ones([4]), E.zeros([4])));
    assert.equal(gn.dtype, 'float32');
  });
});

test('F.silu on a bfloat16 CPU tensor runs through float32: bfloat16 out, within one bf16 step of the kernel, gradients flow', () => {
  tidy(() => {
    const x32 = E.randn([4, 16, 6, 6]).mul(3);
    const x = x32.to('bfloat16').requiresGrad_();
    const y = F.silu(x);
    assert.equal(y.dtype, 'bfloat16');
    const kernel = x.detach().silu().float();
    const exact = x.detach().float().silu();
    const step = exact.abs().max().item() / 128; // one bfloat16 step (8 bits of mantissa) at the top
    assert.ok(
      y.float().sub(kernel).abs().max().item() <= step,
      'same as the bf16 kernel up to rounding',
    );
    assert.ok(
      y.float().sub(exact).abs().max().item() <= step / 2 + 1e-6,
      'float32 SiLU rounded once',
    );
    y.float().sum().backward();
    assert.equal(x.grad!.dtype, 'bfloat16');
    // d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x)))
    const s = x.detach().float().sigmoid();
    const want = s.mul(x.detach().float().mul(s.neg().add(1)).add(1));
    assert.ok(x.grad!.float().sub(want).abs().max().item() < 0.02, 'gradient');
    // float32 stays on the kernel
    assert.equal(F.silu(x32).sub(x32.silu()).abs().max().item(), 0);
  });
});

test('bfloat16 SiLU in float32 blocks (the addon) equals whole-tensor casts bit for bit, values and gradients, in any layout', () => {
  assert.ok(native.siluBf16, 'the addon has siluBf16');
  // one thread: ATen's float32 SiLU takes exp from a vector routine within a thread's chunk
  // and from std::exp on its last < 16 values; with one chunk both sides split alike
  const threads = E.getNumThreads();
  E.setNumThreads(1);
  try {
    tidy(() => {
      // 2·8·40·40 = 25600 values: one full 16 K block and a partial one; channels-last and a
      // transposed (non-dense-contiguous) view; a gradient laid out unlike the input
      const base = E.randn([2, 8, 40, 40]).mul(4);
      const inputs = [
        base,
        base.contiguous('channelsLast'),
        base.transpose(2, 3),
        E.randn([3, 5]).mul(4), // smaller than a block
      ];
      for (const [i, x32] of inputs.entries()) {
        const a = x32.to('bfloat16').detach().requiresGrad_();
        const b = x32.to('bfloat16').detach().requiresGrad_();
        const ya = F.silu(a);
        const yb = F.siluViaFloat32(b);
        assert.deepEqual(ya.shape, yb.shape);
        assert.equal(ya.dtype, 'bfloat16');
        assert.equal(ya.float().sub(yb.float()).abs().max().item(), 0, `values, input ${i}`);
        const dy = E.randn(ya.shape).to('bfloat16');
        const dyOther =
          dy.shape.length !== 4
            ? dy.t().contiguous().t()
            : i === 1
              ? dy.contiguous()
              : dy.contiguous('channelsLast');
        ya.backward(dyOther);
        yb.backward(dyOther);
        assert.equal(a.grad!.dtype, 'bfloat16');
        assert.equal(
          a.grad!.float().sub(b.grad!.float()).abs().max().item(),
          0,
          `gradients, input ${i}`,
        );
      }
      assert.throws(() => native.siluBf16!(E.randn([2]).handle), /bfloat16 CPU tensor/);
    });
  } finally {
    E.setNumThreads(threads);
  }
});

test('autograd: accumulation, zeroGrad, noGrad/enableGrad, detach, multi-output backward', () => {
  tidy(() => {
    const w = tensor([1, 2, 3]).requiresGrad_();
    w.mul(2).sum().backward();
    w.mul(2).sum().backward();
    assert.deepEqual(w.grad!.toArrayFlat(), [4, 4, 4], 'gradients accumulate');
    w.zeroGrad(false);
    assert.deepEqual(w.grad!.toArrayFlat(), [0, 0, 0]);
    w.zeroGrad();
    assert.equal(w.grad, null);
    const y = noGrad(() => {
      assert.ok(!E.isGradEnabled());
      const inner = enableGrad(() => w.mul(3));
      assert.ok(inner.requiresGrad, 'enableGrad inside noGrad records');
      return w.mul(3);
    });
    assert.ok(!y.requiresGrad);
    assert.ok(E.isGradEnabled());
    assert.ok(!w.mul(2).detach().requiresGrad);
    E.backward([w.sum(), w.square().sum()]);
    assert.deepEqual(w.grad!.toArrayFlat(), [3, 5, 7]);
    const g = w.mul(w);
    g.backward(tensor([1, 1, 1]), { retainGraph: true });
    g.backward(tensor([1, 0, 0]));
    assert.deepEqual(w.grad!.toArrayFlat(), [3 + 2 + 2, 5 + 4, 7 + 6]);
    w.grad = null;
    assert.equal(w.grad, null);
    assert.ok(w.isLeaf && !w.mul(1).isLeaf);
  });
});

test('inferenceMode: no graph, inference tensors, state restored', () => {
  tidy(() => {
    const w = tensor([1, 2]).requiresGrad_();
    const y = E.inferenceMode(() => {
      assert.ok(!E.isGradEnabled());
      return F.linear(ones([3, 2]), w.unsqueeze(0));
    });
    assert.ok(!y.requiresGrad);
    assert.ok(y.isInference && !w.isInference);
    assert.deepEqual(y.toArrayFlat(), [3, 3, 3]);
    assert.ok(E.isGradEnabled());
    assert.throws(
      () =>
        E.inferenceMode(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.ok(E.isGradEnabled(), 'restored after a throw');
  });
});

test('clipGradNorm_ matches the definition', () => {
  tidy(() => {
    const a = tensor([3, 0]).requiresGrad_(),
      b = tensor([[0, 4]]).requiresGrad_();
    a.mul(a).sum().div(2).backward(); // grad a = a = [3, 0]
    b.mul(b).sum().div(2).backward(); // grad b = b = [[0, 4]]
    assert.equal(E.clipGradNorm_([a, b], 10), 5, 'no clipping below the limit');
    assert.deepEqual(a.grad!.toArrayFlat(), [3, 0]);
    const total = E.clipGradNorm_([a, b], 1);
    assert.equal(total, 5);
    const clipped = Math.hypot(...a.grad!.toArrayFlat(), ...b.grad!.toArrayFlat());
    assert.ok(Math.abs(clipped - 1) < 1e-5, `clipped norm ${clipped}`);
    assert.equal(E.clipGradNorm_([tensor([1])], 1), 0, 'no gradients');
  });
});

test('seeding repeats random streams; threads are settable', () => {
  tidy(() => {
    E.manualSeed(42);
    const a = E.randn([5]).toArrayFlat();
    const d1 = F.dropout(ones([8]), 0.5).toArrayFlat();
    E.manualSeed(42);
    assert.deepEqual(E.randn([5]).toArrayFlat(), a);
    assert.deepEqual(F.dropout(ones([8]), 0.5).toArrayFlat(), d1);
    assert.notDeepEqual(E.randn([5]).toArrayFlat(), a);
  });
  const n = E.getNumThreads();
  E.setNumThreads(2);
  assert.equal(E.getNumThreads(), 2);
  E.setNumThreads(n);
  assert.throws(() => E.setNumThreads(0), E.ArgumentError);
});

test('console.log shows values and metadata without leaking', () => {
  const before = E.liveTensors();
  const t = E.arange(20);
  const text = inspect(t);
  assert.match(
    text,
    /Tensor\(\[0, 1, 2, 3, 4, 5, 6, 7, … \(20 values\)\], shape=\[20\], dtype=int64, device=cpu\)/,
  );
  t.dispose();
  assert.equal(inspect(t), 'Tensor(disposed)');
  assert.equal(E.liveTensors(), before);
});

test('Symbol.dispose and scopes', () => {
  const before = E.liveTensors();
  {
    using t = ones([4]);
    assert.equal(t.sum().item(), 4);
  }
  // t and the sum result: t is disposed by `using`; the sum (outside tidy) is caller-owned
  assert.ok(E.liveTensors() <= before + 1);
  assert.equal(E.cuda.isAvailable(), E.cuda.deviceCount() > 0);
  assert.match(E.torchVersion(), /^\d+\.\d+/);
});

test('linear as a 1×1 conv (generic-BLAS builds) equals aten::linear, values and gradients', () => {
  // Debian's libtorch reports BLAS_INFO=generic: detection must pick the conv path there
  if (/BLAS_INFO=generic/.test(E.torchConfig()) && /USE_MKLDNN=ON/.test(E.torchConfig()))
    assert.equal(F.linearRunsAsConv(), true);
  const run = (asConv: boolean, xShape: number[], bias: boolean) =>
    tidy(() => {
      F.setLinearRunsAsConv(asConv);
      E.manualSeed(3);
      const x = E.randn(xShape).requiresGrad_(true);
      const w = E.randn([7, xShape[xShape.length - 1]]).requiresGrad_(true);
      const b = bias ? E.randn([7]).requiresGrad_(true) : null;
      const y = F.linear(x, w, b);
      y.mul(y).sum().backward();
      return {
        y: y.detach().toArray() as number[],
        shape: y.shape,
        gx: x.grad!.toArray() as number[],
        gw: w.grad!.toArray() as number[],
        gb: b ? (b.grad!.toArray() as number[]) : [],
      };
    });
  try {
    for (const [xShape, bias] of [
      [[5, 11], true],
      [[2, 3, 11], false],
      [[11], true],
    ] as [number[], boolean][]) {
      const a = run(true, xShape, bias),
        r = run(false, xShape, bias);
      assert.deepEqual(a.shape, [...xShape.slice(0, -1), 7]);
      assert.deepEqual(a.shape, r.shape);
      for (const k of ['y', 'gx', 'gw', 'gb'] as const) {
        const d = Math.max(
          0,
          ...a[k]
            .flat(3)
            .map((v: number, i: number) => Math.abs(v - (r[k].flat(3) as number[])[i])),
        );
        assert.ok(d < 1e-4, `${k} for x [${xShape}] differs by ${d}`);
      }
    }
  } finally {
    F.setLinearRunsAsConv(null);
  }
});
