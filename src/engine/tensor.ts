// Tensor: a typed JS view of one libtorch tensor handle. Methods mirror torch.Tensor with
// camelCase names; in-place methods end with `_` and return `this`. Every result is a new
// Tensor owned by the innermost tidy() scope (see scope.ts).
import { native, type Handle } from './native.js';
import { OP } from './ops.js';
import { track, type Owned } from './scope.js';
import { DisposedError, ShapeError, ArgumentError, IndexError, makeNativeError } from './errors.js';
import {
  dtypeCode,
  dtypeFromCode,
  typedArrayFor,
  type DType,
  type TypedArray,
  type TypedArrayOf,
  DTYPE_SIZE,
} from './dtype.js';
import { checkDevice } from './device.js';

native.setErrorFactory(makeNativeError);

/** Frees handles of tensors the program dropped without dispose() (backstop only). */
const gcBackstop = new FinalizationRegistry<Handle>((h) => native.dispose(h));

export type Scalar = number | boolean;
export type Shape = readonly number[];
/** Memory layouts (c10::MemoryFormat codes). */
export type MemoryFormat = 'contiguous' | 'preserve' | 'channelsLast' | 'channelsLast3d';
export const MEMORY_FORMAT_CODE: Record<MemoryFormat, number> = {
  contiguous: 0,
  preserve: 1,
  channelsLast: 2,
  channelsLast3d: 3,
};

export interface ReduceOptions {
  dim?: number | number[];
  keepdim?: boolean;
  dtype?: DType;
}
export interface VarOptions {
  dim?: number | number[];
  keepdim?: boolean;
  /** Bessel's correction (default true, like torch) */
  unbiased?: boolean;
}
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

/** Wraps a fresh native handle (from an op) into a Tensor owned by the current scope. */
export function wrap(h: Handle): Tensor {
  const t = new Tensor(h);
  track(t);
  return t;
}
/** A Tensor view of a handle the caller frees itself (not tracked by scopes). */
function wrapNone(hd: Handle): Tensor {
  return new Tensor(hd);
}
function wrapAll(hs: Handle[]): Tensor[] {
  return hs.map(wrap);
}
function pair(hs: [Handle, Handle]): ValuesIndices {
  return { values: wrap(hs[0]), indices: wrap(hs[1]) };
}
/** A tensor argument's handle; anything else (null, a number, an array) is an ArgumentError. */
function h(t: Tensor): Handle {
  if (!(t instanceof Tensor)) throw new ArgumentError(`expected a Tensor, got ${describeValue(t)}`);
  return t.handle;
}
const hOpt = (t: Tensor | null | undefined): Handle | null => (t == null ? null : h(t));
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'no prototype'})`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}
const dims = (d: number | readonly number[]): number[] =>
  typeof d === 'number' ? [d] : (d as number[]);

export class Tensor implements Owned {
  private _h: Handle;
  private _shape: number[] | undefined;
  private _registered = false;
  _kept = false;

  /** @internal use the creation functions (tensor, zeros, ...) instead */
  constructor(handle: Handle) {
    this._h = handle;
  }

  /** A CPU tensor from raw little-endian element bytes (e.g. a safetensors payload); one copy. */
  static fromBytes(dtype: DType, shape: Shape, bytes: Uint8Array | ArrayBuffer): Tensor {
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0)
        throw new ShapeError(`invalid shape [${shape.join(', ')}]`);
    return wrap(native.fromBytes(bytes, dtypeCode(dtype), shape as number[]));
  }

  // ---- handle & lifetime ------------------------------------------------------------------
  /** The native handle; throws DisposedError after dispose(). */
  get handle(): Handle {
    if (this._h < 0)
      throw new DisposedError(
        'tensor used after dispose() (or after its tidy() scope ended; keep() or return it to hold on)',
      );
    return this._h;
  }
  get isDisposed(): boolean {
    return this._h < 0;
  }
  dispose(): void {
    const hd = this._h;
    if (hd < 0) return;
    this._h = -1;
    if (this._registered) gcBackstop.unregister(this);
    native.dispose(hd);
  }
  /** @internal marks disposed without freeing; returns the handle for a batched free */
  _release(): Handle {
    const hd = this._h;
    if (hd < 0) return -1;
    this._h = -1;
    if (this._registered) gcBackstop.unregister(this);
    return hd;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** @internal the caller now owns this tensor: free it on GC if never disposed. */
  _escape(): void {
    if (!this._registered && this._h >= 0) {
      this._registered = true;
      gcBackstop.register(this, this._h, this);
    }
  }

  // ---- metadata -------------------------------------------------------------------------
  get shape(): number[] {
    return this.dims.slice();
  }
  /** Shape without copying (do not mutate). */
  get dims(): readonly number[] {
    if (this._h < 0) void this.handle; // throws DisposedError, also when the shape is cached
    return (this._shape ??= native.shape(this._h));
  }
  get ndim(): number {
    return this.dims.length;
  }
  get rank(): number {
    return this.dims.length;
  }
  get numel(): number {
    let n = 1;
    for (const d of this.dims) n *= d;
    return n;
  }
  size(dim?: number): number {
    const s = this.dims;
    if (dim === undefined) return this.numel;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length)
      throw new ShapeError(`size(${dim}): dimension out of range for a ${s.length}-d tensor`);
    return s[d];
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.handle));
  }
  get device(): string {
    return native.device(this.handle);
  }
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** Created inside inferenceMode() (cannot be used by autograd). */
  get isInference(): boolean {
    return native.isInference(this.handle);
  }
  /** Whether the layout is contiguous in the given memory format (default row-major). */
  isContiguous(format: MemoryFormat = 'contiguous'): boolean {
    if (native.isContiguous) return native.isContiguous(this.handle, MEMORY_FORMAT_CODE[format]);
    throw new ArgumentError('isContiguous needs a newer native addon');
  }
  toString(): string {
    return this._h < 0
      ? 'Tensor(disposed)'
      : `Tensor(shape=[${this.dims.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
  /** console.log / util.inspect: metadata and the first few values. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this._h < 0) return 'Tensor(disposed)';
    const n = this.numel;
    const flatH = native.call(OP.reshape, this._h, [-1]) as Handle;
    const head = native.call(OP.slice, flatH, 0, 0, 8, 1) as Handle;
    let values: string;
    try {
      const flat = wrapNone(head).toArrayFlat();
      values =
        flat.map((v) => (Number.isInteger(v) ? String(v) : v.toPrecision(5))).join(', ') +
        (n > 8 ? `, … (${n} values)` : '');
    } finally {
      native.dispose(head);
      native.dispose(flatH);
    }
    return `Tensor([${values}], shape=[${this.dims.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- data out ---------------------------------------------------------------------------
  /** The single element as a JS number (or boolean). */
  item(): number {
    return native.item(this.handle) as number;
  }
  /** Copy of the elements (row-major, CPU). float16/bfloat16 widen to Float32Array. */
  toTypedArray<D extends DType = DType>(): TypedArrayOf[D] {
    const dt = this.dtype;
    if (dt === 'float16' || dt === 'bfloat16') {
      const f = native.call(OP.toDtype, this.handle, 6, false, false, null) as Handle;
      try {
        return new Float32Array(native.toBytes(f)) as TypedArrayOf[D];
      } finally {
        native.dispose(f);
      }
    }
    return typedArrayFor(dt, native.toBytes(this.handle)) as TypedArrayOf[D];
  }
  /** Elements as a flat number[] (int64 converted to number). */
  toArrayFlat(): number[] {
    const a = this.toTypedArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }
  /** Nested JS arrays of numbers, like tensor.tolist(). */
  toArray(): unknown {
    const flat = this.toArrayFlat();
    const s = this.dims;
    if (s.length === 0) return flat[0];
    let i = 0;
    const build = (d: number): unknown[] => {
      const out: unknown[] = [];
      for (let k = 0; k < s[d]; k++) out.push(d === s.length - 1 ? flat[i++] : build(d + 1));
      return out;
    };
    return build(0);
  }
  /** Copy of the raw bytes (row-major, CPU, native dtype layout; for serialisation). */
  toBytes(): Uint8Array {
    return new Uint8Array(native.toBytes(this.handle));
  }
  /**
   * Zero-copy view of the storage bytes (CPU, contiguous tensors only). Writes through the
   * view change the tensor. The view keeps the storage alive until it is garbage-collected.
   */
  bytes(): Uint8Array {
    return new Uint8Array(native.bytesView(this.handle));
  }
  /** Zero-copy typed view of the storage (CPU, contiguous; not float16/bfloat16 widening). */
  dataView(): TypedArray {
    return typedArrayFor(this.dtype, native.bytesView(this.handle));
  }

  // ---- conversion -------------------------------------------------------------------------
  /** Converts dtype and/or device. Returns a new tensor (an alias when nothing changes). */
  to(
    target:
      | DType
      | string
      | {
          dtype?: DType;
          device?: string;
          copy?: boolean;
          memoryFormat?: MemoryFormat;
          nonBlocking?: boolean;
        },
  ): Tensor {
    const o =
      typeof target === 'string'
        ? target in DTYPE_SIZE
          ? { dtype: target as DType }
          : { device: target }
        : target;
    const mf = o.memoryFormat ? MEMORY_FORMAT_CODE[o.memoryFormat] : null;
    const nb = !!(o as { nonBlocking?: boolean }).nonBlocking;
    if (o.device !== undefined) {
      const dev = checkDevice(o.device);
      return wrap(
        native.call(
          OP.toDevice,
          this.handle,
          dev,
          o.dtype ? dtypeCode(o.dtype) : native.dtype(this.handle),
          nb,
          !!o.copy,
          mf,
        ),
      );
    }
    return wrap(
      native.call(
        OP.toDtype,
        this.handle,
        o.dtype ? dtypeCode(o.dtype) : native.dtype(this.handle),
        nb,
        !!o.copy,
        mf,
      ),
    );
  }
  /** A copy in page-locked host memory (CPU tensors; needs a CUDA build), for non-blocking copies to a GPU. */
  pinMemory(): Tensor {
    return wrap(native.call(OP.pinMemory, this.handle, null));
  }
  /** Whether the storage is page-locked host memory (always false on a build without CUDA). */
  isPinned(): boolean {
    return native.call(OP.isPinned, this.handle, null) as boolean;
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  half(): Tensor {
    return this.to('float16');
  }
  bfloat16(): Tensor {
    return this.to('bfloat16');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(index = 0): Tensor {
    return this.to({ device: `cuda:${index}` });
  }
  typeAs(other: Tensor): Tensor {
    return this.to(other.dtype);
  }
  clone(memoryFormat?: MemoryFormat): Tensor {
    return wrap(
      native.call(OP.clone, this.handle, memoryFormat ? MEMORY_FORMAT_CODE[memoryFormat] : null),
    );
  }
  /** Same data in the given memory layout (e.g. 'channelsLast' for 4-d, 'channelsLast3d' for 5-d). */
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    if (!Object.hasOwn(MEMORY_FORMAT_CODE, memoryFormat))
      throw new ArgumentError(
        `contiguous: unknown memory format ${JSON.stringify(memoryFormat)} (${Object.keys(MEMORY_FORMAT_CODE).join(', ')})`,
      );
    return wrap(native.call(OP.contiguous, this.handle, MEMORY_FORMAT_CODE[memoryFormat]));
  }

  // ---- autograd -----------------------------------------------------------------------------
  /** The accumulated gradient (a new handle owned by the current scope), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : wrap(g);
  }
  set grad(g: Tensor | null) {
    // torch's checks: a gradient the tensor's own shape, dtype and device (or null)
    if (g !== null && !(g instanceof Tensor))
      throw new ArgumentError(`grad: expected a Tensor or null, got ${typeof g}`);
    if (g) {
      if (g.dims.join(',') !== this.dims.join(','))
        throw new ShapeError(
          `grad: assigned [${g.dims.join(', ')}] to a tensor of shape [${this.dims.join(', ')}]`,
        );
      if (g.dtype !== this.dtype || g.device !== this.device)
        throw new ArgumentError(
          `grad: assigned a ${g.dtype} ${g.device} tensor to a ${this.dtype} ${this.device} one`,
        );
    }
    native.setGrad(this.handle, hOpt(g));
  }
  /** Sets requires_grad (leaf tensors) and returns this. */
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.handle, value);
    return this;
  }
  /** Drops the gradient (setToNone, default) or zeroes it in place. */
  zeroGrad(setToNone = true): void {
    if (setToNone) {
      native.setGrad(this.handle, null);
      return;
    }
    const g = native.grad(this.handle);
    if (g !== null) {
      native.callVoid(OP.zero_, g);
      native.dispose(g);
    }
  }
  /** Back-propagates from this tensor; gradients accumulate into leaves' .grad. */
  backward(
    gradient?: Tensor | null,
    opts: { retainGraph?: boolean; createGraph?: boolean } = {},
  ): void {
    native.backward(
      [this.handle],
      gradient ? [gradient.handle] : null,
      opts.retainGraph,
      !!opts.createGraph,
    );
  }
  detach(): Tensor {
    return wrap(native.call(OP.detach, this.handle));
  }

  // ---- elementwise arithmetic (broadcasting; numbers are scalars) -----------------------
  add(o: Tensor | number, alpha = 1): Tensor {
    return wrap(
      typeof o === 'number'
        ? native.call(OP.addS, this.handle, o, alpha)
        : native.call(OP.add, this.handle, h(o), alpha),
    );
  }
  sub(o: Tensor | number, alpha = 1): Tensor {
    return wrap(
      typeof o === 'number'
        ? native.call(OP.subS, this.handle, o, alpha)
        : native.call(OP.sub, this.handle, h(o), alpha),
    );
  }
  /** o - this */
  rsub(o: number): Tensor {
    return wrap(native.call(OP.rsubS, this.handle, o, 1));
  }
  mul(o: Tensor | number): Tensor {
    return wrap(
      typeof o === 'number'
        ? native.call(OP.mulS, this.handle, o)
        : native.call(OP.mul, this.handle, h(o)),
    );
  }
  div(o: Tensor | number, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode) {
      return wrap(
        typeof o === 'number'
          ? native.call(OP.divSMode, this.handle, o, roundingMode)
          : native.call(OP.divMode, this.handle, h(o), roundingMode),
      );
    }
    return wrap(
      typeof o === 'number'
        ? native.call(OP.divS, this.handle, o)
        : native.call(OP.div, this.handle, h(o)),
    );
  }
  remainder(o: Tensor | number): Tensor {
    return wrap(
      typeof o === 'number'
        ? native.call(OP.remainderS, this.handle, o)
        : native.call(OP.remainder, this.handle, h(o)),
    );
  }
  pow(e: Tensor | number): Tensor {
    return wrap(
      typeof e === 'number'
        ? native.call(OP.powS, this.handle, e)
        : native.call(OP.pow, this.handle, h(e)),
    );
  }
  neg(): Tensor {
    return wrap(native.call(OP.neg, this.handle));
  }
  abs(): Tensor {
    return wrap(native.call(OP.abs, this.handle));
  }
  sqrt(): Tensor {
    return wrap(native.call(OP.sqrt, this.handle));
  }
  rsqrt(): Tensor {
    return wrap(native.call(OP.rsqrt, this.handle));
  }
  exp(): Tensor {
    return wrap(native.call(OP.exp, this.handle));
  }
  log(): Tensor {
    return wrap(native.call(OP.log, this.handle));
  }
  log1p(): Tensor {
    return wrap(native.call(OP.log1p, this.handle));
  }
  log2(): Tensor {
    return wrap(native.call(OP.log2, this.handle));
  }
  expm1(): Tensor {
    return wrap(native.call(OP.expm1, this.handle));
  }
  sin(): Tensor {
    return wrap(native.call(OP.sin, this.handle));
  }
  cos(): Tensor {
    return wrap(native.call(OP.cos, this.handle));
  }
  tanh(): Tensor {
    return wrap(native.call(OP.tanh, this.handle));
  }
  sigmoid(): Tensor {
    return wrap(native.call(OP.sigmoid, this.handle));
  }
  relu(): Tensor {
    return wrap(native.call(OP.relu, this.handle));
  }
  silu(): Tensor {
    return wrap(native.call(OP.silu, this.handle));
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return wrap(native.call(OP.gelu, this.handle, approximate));
  }
  sign(): Tensor {
    return wrap(native.call(OP.sign, this.handle));
  }
  floor(): Tensor {
    return wrap(native.call(OP.floor, this.handle));
  }
  ceil(): Tensor {
    return wrap(native.call(OP.ceil, this.handle));
  }
  round(): Tensor {
    return wrap(native.call(OP.round, this.handle));
  }
  trunc(): Tensor {
    return wrap(native.call(OP.trunc, this.handle));
  }
  reciprocal(): Tensor {
    return wrap(native.call(OP.reciprocal, this.handle));
  }
  square(): Tensor {
    return wrap(native.call(OP.square, this.handle));
  }
  erf(): Tensor {
    return wrap(native.call(OP.erf, this.handle));
  }
  softmax(dim: number): Tensor {
    return wrap(native.call(OP.softmax, this.handle, dim, null));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(native.call(OP.logSoftmax, this.handle, dim, null));
  }
  /** clamp(min, max); either bound may be null/undefined; tensors broadcast. */
  clamp(min?: number | Tensor | null, max?: number | Tensor | null): Tensor {
    if ((min !== null && typeof min === 'object') || (max !== null && typeof max === 'object')) {
      const lo =
        typeof min === 'number'
          ? native.call(OP.scalarTensor, min, native.dtype(this.handle))
          : hOpt(min as Tensor);
      const hi =
        typeof max === 'number'
          ? native.call(OP.scalarTensor, max, native.dtype(this.handle))
          : hOpt(max as Tensor);
      try {
        return wrap(native.call(OP.clampT, this.handle, lo, hi));
      } finally {
        if (typeof min === 'number') native.dispose(lo!);
        if (typeof max === 'number') native.dispose(hi!);
      }
    }
    return wrap(native.call(OP.clamp, this.handle, min ?? null, max ?? null));
  }
  maximum(o: Tensor): Tensor {
    return wrap(native.call(OP.maximum, this.handle, h(o)));
  }
  minimum(o: Tensor): Tensor {
    return wrap(native.call(OP.minimum, this.handle, h(o)));
  }
  /** this + w * (end - this) */
  lerp(end: Tensor, w: number | Tensor): Tensor {
    return wrap(
      typeof w === 'number'
        ? native.call(OP.lerp, this.handle, h(end), w)
        : native.call(OP.lerpT, this.handle, h(end), h(w)),
    );
  }

  // ---- comparisons / logic ------------------------------------------------------------------
  eq(o: Tensor | Scalar): Tensor {
    return wrap(
      typeof o === 'object'
        ? native.call(OP.eq, this.handle, h(o))
        : native.call(OP.eqS, this.handle, o),
    );
  }
  ne(o: Tensor | Scalar): Tensor {
    return wrap(
      typeof o === 'object'
        ? native.call(OP.ne, this.handle, h(o))
        : native.call(OP.neS, this.handle, o),
    );
  }
  lt(o: Tensor | Scalar): Tensor {
    return wrap(
      typeof o === 'object'
        ? native.call(OP.lt, this.handle, h(o))
        : native.call(OP.ltS, this.handle, o),
    );
  }
  le(o: Tensor | Scalar): Tensor {
    return wrap(
      typeof o === 'object'
        ? native.call(OP.le, this.handle, h(o))
        : native.call(OP.leS, this.handle, o),
    );
  }
  gt(o: Tensor | Scalar): Tensor {
    return wrap(
      typeof o === 'object'
        ? native.call(OP.gt, this.handle, h(o))
        : native.call(OP.gtS, this.handle, o),
    );
  }
  ge(o: Tensor | Scalar): Tensor {
    return wrap(
      typeof o === 'object'
        ? native.call(OP.ge, this.handle, h(o))
        : native.call(OP.geS, this.handle, o),
    );
  }
  logicalAnd(o: Tensor): Tensor {
    return wrap(native.call(OP.logicalAnd, this.handle, h(o)));
  }
  logicalOr(o: Tensor): Tensor {
    return wrap(native.call(OP.logicalOr, this.handle, h(o)));
  }
  logicalXor(o: Tensor): Tensor {
    return wrap(native.call(OP.logicalXor, this.handle, h(o)));
  }
  logicalNot(): Tensor {
    return wrap(native.call(OP.logicalNot, this.handle));
  }
  isnan(): Tensor {
    return wrap(native.call(OP.isnan, this.handle));
  }
  isfinite(): Tensor {
    return wrap(native.call(OP.isfinite, this.handle));
  }
  /** Elements of this, with `value` where mask is true. */
  maskedFill(mask: Tensor, value: number | Tensor): Tensor {
    return wrap(
      typeof value === 'number'
        ? native.call(OP.maskedFill, this.handle, h(mask), value)
        : native.call(OP.maskedFillT, this.handle, h(mask), h(value)),
    );
  }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8, equalNan = false): boolean {
    return native.call(OP.allclose, this.handle, h(o), rtol, atol, equalNan) as boolean;
  }
  equal(o: Tensor): boolean {
    return native.call(OP.equal, this.handle, h(o)) as boolean;
  }

  // ---- reductions ------------------------------------------------------------------------------
  sum(opts: ReduceOptions | number | number[] = {}, keepdim = false): Tensor {
    const o = normReduce(opts, keepdim);
    const dt = o.dtype ? dtypeCode(o.dtype) : null;
    if (o.dim === undefined) return wrap(native.call(OP.sumAll, this.handle, dt));
    return wrap(native.call(OP.sumDim, this.handle, dims(o.dim), !!o.keepdim, dt));
  }
  mean(opts: ReduceOptions | number | number[] = {}, keepdim = false): Tensor {
    const o = normReduce(opts, keepdim);
    const dt = o.dtype ? dtypeCode(o.dtype) : null;
    if (o.dim === undefined) return wrap(native.call(OP.meanAll, this.handle, dt));
    return wrap(native.call(OP.meanDim, this.handle, dims(o.dim), !!o.keepdim, dt));
  }
  prod(opts: { dim?: number; keepdim?: boolean } = {}): Tensor {
    if (opts.dim === undefined) return wrap(native.call(OP.prod, this.handle, null));
    return wrap(native.call(OP.prodDim, this.handle, opts.dim, !!opts.keepdim, null));
  }
  /** max() of all elements, or {values, indices} along opts.dim. */
  max(): Tensor;
  max(opts: { dim: number; keepdim?: boolean }): ValuesIndices;
  max(opts?: { dim: number; keepdim?: boolean }): Tensor | ValuesIndices {
    if (!opts) return wrap(native.call(OP.maxAll, this.handle));
    return pair(native.call(OP.maxDim, this.handle, opts.dim, !!opts.keepdim));
  }
  min(): Tensor;
  min(opts: { dim: number; keepdim?: boolean }): ValuesIndices;
  min(opts?: { dim: number; keepdim?: boolean }): Tensor | ValuesIndices {
    if (!opts) return wrap(native.call(OP.minAll, this.handle));
    return pair(native.call(OP.minDim, this.handle, opts.dim, !!opts.keepdim));
  }
  amax(dim: number | number[], keepdim = false): Tensor {
    return wrap(native.call(OP.amax, this.handle, dims(dim), keepdim));
  }
  amin(dim: number | number[], keepdim = false): Tensor {
    return wrap(native.call(OP.amin, this.handle, dims(dim), keepdim));
  }
  argmax(opts: { dim?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(native.call(OP.argmax, this.handle, opts.dim ?? null, !!opts.keepdim));
  }
  argmin(opts: { dim?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(native.call(OP.argmin, this.handle, opts.dim ?? null, !!opts.keepdim));
  }
  topk(k: number, opts: { dim?: number; largest?: boolean; sorted?: boolean } = {}): ValuesIndices {
    return pair(
      native.call(
        OP.topk,
        this.handle,
        k,
        opts.dim ?? -1,
        opts.largest ?? true,
        opts.sorted ?? true,
      ),
    );
  }
  sort(opts: { dim?: number; descending?: boolean } = {}): ValuesIndices {
    return pair(native.call(OP.sort, this.handle, opts.dim ?? -1, !!opts.descending));
  }
  argsort(opts: { dim?: number; descending?: boolean } = {}): Tensor {
    return wrap(native.call(OP.argsort, this.handle, opts.dim ?? -1, !!opts.descending));
  }
  var(opts: VarOptions = {}): Tensor {
    return wrap(
      native.call(
        OP.varDim,
        this.handle,
        opts.dim === undefined ? null : dims(opts.dim),
        opts.unbiased ?? true,
        !!opts.keepdim,
      ),
    );
  }
  std(opts: VarOptions = {}): Tensor {
    return wrap(
      native.call(
        OP.stdDim,
        this.handle,
        opts.dim === undefined ? null : dims(opts.dim),
        opts.unbiased ?? true,
        !!opts.keepdim,
      ),
    );
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return wrap(native.call(OP.logsumexp, this.handle, dims(dim), keepdim));
  }
  cumsum(dim: number): Tensor {
    return wrap(native.call(OP.cumsum, this.handle, dim, null));
  }
  all(): Tensor {
    return wrap(native.call(OP.all, this.handle));
  }
  any(): Tensor {
    return wrap(native.call(OP.any, this.handle));
  }
  /** Vector p-norm over all elements or the given dims. */
  norm(p = 2, opts: { dim?: number | number[]; keepdim?: boolean } = {}): Tensor {
    return wrap(
      native.call(
        OP.vectorNorm,
        this.handle,
        p,
        opts.dim === undefined ? null : dims(opts.dim),
        !!opts.keepdim,
        null,
      ),
    );
  }

  // ---- shape ops ------------------------------------------------------------------------------
  reshape(shape: Shape): Tensor {
    return wrap(native.call(OP.reshape, this.handle, shape));
  }
  view(shape: Shape): Tensor {
    return wrap(native.call(OP.view, this.handle, shape));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(native.call(OP.flatten, this.handle, startDim, endDim));
  }
  unflatten(dim: number, sizes: Shape): Tensor {
    return wrap(native.call(OP.unflatten, this.handle, dim, sizes));
  }
  permute(order: Shape): Tensor {
    return wrap(native.call(OP.permute, this.handle, order));
  }
  transpose(d0: number, d1: number): Tensor {
    return wrap(native.call(OP.transpose, this.handle, d0, d1));
  }
  /** 2-d transpose */
  t(): Tensor {
    return wrap(native.call(OP.t, this.handle));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.call(OP.narrow, this.handle, dim, start, length));
  }
  /** Python-style slice [start:end:step] along dim (negative indices count from the end). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return wrap(native.call(OP.slice, this.handle, dim, start ?? null, end ?? null, step));
  }
  /** Index `index` along `dim`, removing that dim. */
  select(dim: number, index: number): Tensor {
    return wrap(native.call(OP.select, this.handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    try {
      return wrap(native.call(OP.indexSelect, this.handle, dim, h(index)));
    } catch (e) {
      if (e instanceof IndexError)
        throw new IndexError(
          `indexSelect: index out of range for dim ${dim} of shape [${this.dims.join(', ')}] (${e.message})`,
        );
      throw e;
    }
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(native.call(OP.gather, this.handle, dim, h(index), false));
  }
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    return wrap(
      typeof src === 'number'
        ? native.call(OP.scatterValue, this.handle, dim, h(index), src)
        : native.call(OP.scatter, this.handle, dim, h(index), h(src)),
    );
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(native.call(OP.scatterAdd, this.handle, dim, h(index), h(src)));
  }
  /** Advanced indexing x[i0, i1, ...] with index tensors (null = full slice). */
  index(indices: (Tensor | null)[]): Tensor {
    if (!Array.isArray(indices) || !indices.some((i) => i))
      throw new ArgumentError('index: give at least one index tensor (null skips a dim)');
    return wrap(native.call(OP.index, this.handle, indices.map(hOpt)));
  }
  maskedSelect(mask: Tensor): Tensor {
    return wrap(native.call(OP.maskedSelect, this.handle, h(mask)));
  }
  nonzero(): Tensor {
    return wrap(native.call(OP.nonzero, this.handle));
  }
  flip(dimsToFlip: number | number[]): Tensor {
    return wrap(native.call(OP.flip, this.handle, dims(dimsToFlip)));
  }
  roll(shifts: number | number[], dimsToRoll: number | number[]): Tensor {
    return wrap(native.call(OP.roll, this.handle, dims(shifts), dims(dimsToRoll)));
  }
  expand(shape: Shape): Tensor {
    return wrap(native.call(OP.expand, this.handle, shape, false));
  }
  expandAs(o: Tensor): Tensor {
    return this.expand(o.dims);
  }
  squeeze(dim?: number): Tensor {
    return wrap(
      dim === undefined
        ? native.call(OP.squeeze, this.handle)
        : native.call(OP.squeezeDim, this.handle, dim),
    );
  }
  unsqueeze(dim: number): Tensor {
    return wrap(native.call(OP.unsqueeze, this.handle, dim));
  }
  unbind(dim = 0): Tensor[] {
    return wrapAll(native.call(OP.unbind, this.handle, dim));
  }
  /** split into chunks of `size` (number) or of the given sizes (array) along dim */
  split(size: number | number[], dim = 0): Tensor[] {
    return wrapAll(
      typeof size === 'number'
        ? native.call(OP.split, this.handle, size, dim)
        : native.call(OP.splitSizes, this.handle, size, dim),
    );
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapAll(native.call(OP.chunk, this.handle, chunks, dim));
  }
  repeat(times: Shape): Tensor {
    return wrap(native.call(OP.repeat, this.handle, times));
  }
  repeatInterleave(repeats: number, dim?: number): Tensor {
    return wrap(native.call(OP.repeatInterleave, this.handle, repeats, dim ?? null, null));
  }
  tril(diagonal = 0): Tensor {
    return wrap(native.call(OP.tril, this.handle, diagonal));
  }
  triu(diagonal = 0): Tensor {
    return wrap(native.call(OP.triu, this.handle, diagonal));
  }

  // ---- linear algebra -------------------------------------------------------------------------
  matmul(o: Tensor): Tensor {
    return wrap(native.call(OP.matmul, this.handle, h(o)));
  }
  mm(o: Tensor): Tensor {
    return wrap(native.call(OP.mm, this.handle, h(o)));
  }
  bmm(o: Tensor): Tensor {
    return wrap(native.call(OP.bmm, this.handle, h(o)));
  }
  dot(o: Tensor): Tensor {
    return wrap(native.call(OP.dot, this.handle, h(o)));
  }
  outer(o: Tensor): Tensor {
    return wrap(native.call(OP.outer, this.handle, h(o)));
  }

  // ---- in-place (optimizers, init); return this ------------------------------------------------
  add_(o: Tensor | number, alpha = 1): this {
    if (typeof o === 'number') native.callVoid(OP.addS_, this.handle, o, alpha);
    else native.callVoid(OP.add_, this.handle, h(o), alpha);
    return this;
  }
  sub_(o: Tensor | number, alpha = 1): this {
    if (typeof o === 'number') native.callVoid(OP.subS_, this.handle, o, alpha);
    else native.callVoid(OP.sub_, this.handle, h(o), alpha);
    return this;
  }
  mul_(o: Tensor | number): this {
    if (typeof o === 'number') native.callVoid(OP.mulS_, this.handle, o);
    else native.callVoid(OP.mul_, this.handle, h(o));
    return this;
  }
  div_(o: Tensor | number): this {
    if (typeof o === 'number') native.callVoid(OP.divS_, this.handle, o);
    else native.callVoid(OP.div_, this.handle, h(o));
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    native.callVoid(OP.addcmul_, this.handle, h(t1), h(t2), value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    native.callVoid(OP.addcdiv_, this.handle, h(t1), h(t2), value);
    return this;
  }
  copy_(src: Tensor): this {
    native.callVoid(OP.copy_, this.handle, h(src), false);
    return this;
  }
  zero_(): this {
    native.callVoid(OP.zero_, this.handle);
    return this;
  }
  fill_(v: number | Tensor): this {
    if (typeof v === 'number') native.callVoid(OP.fill_, this.handle, v);
    else native.callVoid(OP.fillT_, this.handle, h(v));
    return this;
  }
  /** this += w * (end - this) */
  lerp_(end: Tensor, w: number | Tensor): this {
    if (typeof w === 'number') native.callVoid(OP.lerp_, this.handle, h(end), w);
    else native.callVoid(OP.lerpT_, this.handle, h(end), h(w));
    return this;
  }
  sqrt_(): this {
    native.callVoid(OP.sqrt_, this.handle);
    return this;
  }
  relu_(): this {
    native.callVoid(OP.relu_, this.handle);
    return this;
  }
  neg_(): this {
    native.callVoid(OP.neg_, this.handle);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    native.callVoid(OP.clamp_, this.handle, min ?? null, max ?? null);
    return this;
  }
  maskedFill_(mask: Tensor, value: number): this {
    native.callVoid(OP.maskedFill_, this.handle, h(mask), value);
    return this;
  }
  uniform_(low = 0, high = 1): this {
    native.callVoid(OP.uniform_, this.handle, low, high, null);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    native.callVoid(OP.normal_, this.handle, mean, std, null);
    return this;
  }
  bernoulli_(p: number): this {
    native.callVoid(OP.bernoulli_, this.handle, p, null);
    return this;
  }
  /** Alias of mul_(s) under the optimizer-friendly name. */
  mulScalar_(s: number): this {
    return this.mul_(s);
  }
}

function normReduce(opts: ReduceOptions | number | number[], keepdim: boolean): ReduceOptions {
  if (typeof opts === 'number' || Array.isArray(opts)) return { dim: opts, keepdim };
  return opts;
}

export const handleOf = h;
export const handleOrNull = hOpt;
