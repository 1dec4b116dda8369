// Tensor creation: from JS data, constants, ranges and random numbers (seed with manualSeed).
import { native } from './native.js';
import { OP } from './ops.js';
import { Tensor, wrap, handleOf as h, type Shape } from './tensor.js';
import { dtypeCode, dtypeOfTypedArray, type DType } from './dtype.js';
import { checkDevice } from './device.js';
import { ArgumentError, ShapeError } from './errors.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

const dev = (o: CreateOptions): string | null =>
  o.device === undefined || o.device === 'cpu' ? null : checkDevice(o.device);
const dt = (o: CreateOptions, fallback: DType | null = null): number | null =>
  o.dtype ? dtypeCode(o.dtype) : fallback ? dtypeCode(fallback) : null;
/** The tensor, with requires_grad where asked; freed at once when that is refused (an integer
 *  dtype), not left to the garbage collector. */
function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) {
    try {
      t.requiresGrad_(true);
    } catch (e) {
      t.dispose();
      throw e;
    }
  }
  return t;
}

/** `t` converted to another dtype/device; `t` is freed whether or not that succeeds. */
function convertFreeing(t: Tensor, o: { dtype: DType; device: string }): Tensor {
  try {
    return t.to(o as never);
  } finally {
    t.dispose();
  }
}
function checkShape(shape: Shape): Shape {
  if (!Array.isArray(shape))
    throw new ArgumentError(`shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0)
      throw new ShapeError(
        `invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`,
      );
  return shape;
}

/**
 * A tensor from a typed array (one copy into libtorch memory) with the given shape
 * (default: 1-d). The dtype follows the array type unless opts.dtype is given;
 * Uint16Array carries raw float16/bfloat16 bits and needs opts.dtype.
 */
export function fromTypedArray(
  data: ArrayBufferView,
  shape?: Shape,
  opts: CreateOptions = {},
): Tensor {
  let src: DType;
  if (data instanceof Uint16Array) {
    if (opts.dtype !== 'float16' && opts.dtype !== 'bfloat16')
      throw new ArgumentError('Uint16Array data needs {dtype: "float16" | "bfloat16"}');
    src = opts.dtype;
  } else src = dtypeOfTypedArray(data);
  const len = (data as unknown as { length: number }).length;
  const s = checkShape(shape ?? [len]);
  const n = s.reduce((a, b) => a * b, 1);
  if (n !== len)
    throw new ShapeError(
      `fromTypedArray: ${len} elements cannot have shape [${s.join(', ')}] (${n} elements)`,
    );
  let t = wrap(native.fromBytes(data, dtypeCode(src), s as number[]));
  if ((opts.dtype && opts.dtype !== src) || (opts.device && opts.device !== 'cpu'))
    t = convertFreeing(t, { dtype: opts.dtype ?? src, device: opts.device ?? 'cpu' });
  return finish(t, opts);
}

/** Raw little-endian bytes (e.g. a safetensors payload) as a tensor; one copy. */
export function fromBytes(bytes: Uint8Array | ArrayBuffer, dtype: DType, shape: Shape): Tensor {
  return wrap(native.fromBytes(bytes, dtypeCode(dtype), checkShape(shape) as number[]));
}

type Nested = number | boolean | Nested[];

/**
 * torch.tensor(data): from a (nested) number/boolean array or a typed array. Plain numbers
 * default to float32, booleans to bool.
 */
/** Most values tensor() takes from a JS array (2^26; fromTypedArray has no such bound). */
const MAX_JS_ARRAY_VALUES = 1 << 26;

export function tensor(
  data: Nested | ArrayBufferView,
  opts: CreateOptions & { shape?: Shape } = {},
): Tensor {
  if (ArrayBuffer.isView(data)) return fromTypedArray(data, opts.shape, opts);
  const shape: number[] = [];
  let probe: Nested = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  // the values pass through one JS array: past V8's array limit the process dies (not an error)
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_JS_ARRAY_VALUES)
    throw new ArgumentError(
      `tensor(): ${count} values from a JS array (at most ${MAX_JS_ARRAY_VALUES}); build large tensors with fromTypedArray, zeros or full`,
    );
  const flat: (number | boolean)[] = [];
  const walk = (v: Nested, d: number): void => {
    if (Array.isArray(v)) {
      if (d >= shape.length || v.length !== shape[d])
        throw new ShapeError('tensor(): ragged nested array');
      for (const x of v) walk(x, d + 1);
    } else {
      if (d !== shape.length) throw new ShapeError('tensor(): ragged nested array');
      if (typeof v !== 'number' && typeof v !== 'boolean')
        throw new ArgumentError(
          `tensor(): values must be numbers or booleans, got ${v === null ? 'null' : typeof v}`,
        );
      flat.push(v);
    }
  };
  walk(data, 0);
  const isBool = typeof probe === 'boolean';
  const dtype: DType = opts.dtype ?? (isBool ? 'bool' : 'float32');
  let arr: ArrayBufferView;
  if (isBool || dtype === 'bool') arr = Uint8Array.from(flat, (x) => (x ? 1 : 0));
  else if (dtype === 'float64') arr = Float64Array.from(flat as number[]);
  else if (dtype === 'int64')
    arr = BigInt64Array.from(flat as number[], (x) => BigInt(Math.trunc(x)));
  else if (dtype === 'int32') arr = Int32Array.from(flat as number[]);
  else arr = Float32Array.from(flat as number[]);
  const srcDtype: DType = isBool || dtype === 'bool' ? 'bool' : dtypeOfTypedArray(arr);
  let t = wrap(
    native.fromBytes(
      arr,
      dtypeCode(srcDtype),
      opts.shape ? (checkShape(opts.shape) as number[]) : shape,
    ),
  );
  if (srcDtype !== dtype || (opts.device && opts.device !== 'cpu'))
    t = convertFreeing(t, { dtype, device: opts.device ?? 'cpu' });
  return finish(t, opts);
}

/** A 0-d tensor holding one number. */
export function scalar(v: number, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(native.call(OP.scalarTensor, v, dt(opts, 'float32'), null, dev(opts), null)),
    opts,
  );
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(native.call(OP.zeros, checkShape(shape), dt(opts), null, dev(opts), null)),
    opts,
  );
}
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(native.call(OP.ones, checkShape(shape), dt(opts), null, dev(opts), null)),
    opts,
  );
}
export function full(shape: Shape, value: number | boolean, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(
      native.call(
        OP.full,
        checkShape(shape),
        value,
        dt(opts, typeof value === 'boolean' ? 'bool' : 'float32'),
        null,
        dev(opts),
        null,
      ),
    ),
    opts,
  );
}
/** Uninitialised memory (fast; fill before reading). */
export function empty(
  shape: Shape,
  opts: CreateOptions & {
    memoryFormat?: 'contiguous' | 'channelsLast' | 'channelsLast3d';
    pinMemory?: boolean;
  } = {},
): Tensor {
  const mf =
    opts.memoryFormat === 'channelsLast' ? 2 : opts.memoryFormat === 'channelsLast3d' ? 3 : null;
  return finish(
    wrap(
      native.call(
        OP.empty,
        checkShape(shape),
        dt(opts),
        null,
        dev(opts),
        opts.pinMemory ? true : null,
        mf,
      ),
    ),
    opts,
  );
}
/** [start, end) with step; arange(end) counts from 0. Integers give int64 unless dtype is set. */
export function arange(
  startOrEnd: number,
  end?: number,
  step = 1,
  opts: CreateOptions = {},
): Tensor {
  const [s, e] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  return finish(wrap(native.call(OP.arange, s, e, step, dt(opts), null, dev(opts), null)), opts);
}
export function linspace(
  start: number,
  end: number,
  steps: number,
  opts: CreateOptions = {},
): Tensor {
  return finish(
    wrap(native.call(OP.linspace, start, end, steps, dt(opts), null, dev(opts), null)),
    opts,
  );
}
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.eye, n, dt(opts), null, dev(opts), null)), opts);
}
/** Uniform [0, 1). */
export function rand(shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(native.call(OP.rand, checkShape(shape), dt(opts), null, dev(opts), null)),
    opts,
  );
}
/** Standard normal. */
export function randn(shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(native.call(OP.randn, checkShape(shape), dt(opts), null, dev(opts), null)),
    opts,
  );
}
/** Integers uniform in [low, high) (int64 by default). */
export function randint(low: number, high: number, shape: Shape, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(
      native.call(
        OP.randint,
        low,
        high,
        checkShape(shape),
        dt(opts, 'int64'),
        null,
        dev(opts),
        null,
      ),
    ),
    opts,
  );
}
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.randperm, n, dt(opts, 'int64'), null, dev(opts), null)), opts);
}
/** Bernoulli draws: with a tensor of probabilities, or with a constant p for the given shape. */
export function bernoulli(probs: Tensor): Tensor;
export function bernoulli(p: number, shape: Shape, opts?: CreateOptions): Tensor;
export function bernoulli(p: Tensor | number, shape?: Shape, opts: CreateOptions = {}): Tensor {
  if (typeof p !== 'number') return wrap(native.call(OP.bernoulli, h(p), null));
  const base = wrap(
    native.call(
      OP.empty,
      checkShape(shape ?? []),
      dt(opts, 'float32'),
      null,
      dev(opts),
      null,
      null,
    ),
  );
  base.bernoulli_(p);
  return base;
}
export function multinomial(probs: Tensor, numSamples: number, replacement = false): Tensor {
  return wrap(native.call(OP.multinomial, h(probs), numSamples, replacement, null));
}
export function zerosLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.zerosLike, h(t), dt(opts), null, dev(opts), null, null)), opts);
}
export function onesLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.onesLike, h(t), dt(opts), null, dev(opts), null, null)), opts);
}
export function fullLike(t: Tensor, value: number, opts: CreateOptions = {}): Tensor {
  return finish(
    wrap(native.call(OP.fullLike, h(t), value, dt(opts), null, dev(opts), null, null)),
    opts,
  );
}
export function randLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.randLike, h(t), dt(opts), null, dev(opts), null, null)), opts);
}
export function randnLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.randnLike, h(t), dt(opts), null, dev(opts), null, null)), opts);
}
export function emptyLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return finish(wrap(native.call(OP.emptyLike, h(t), dt(opts), null, dev(opts), null, null)), opts);
}
