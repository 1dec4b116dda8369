// Element types. Codes are c10::ScalarType values (stable across libtorch 1.13 and 2.x).
import { DTypeError } from './errors.js';

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export const DTYPE_CODE: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};
const BY_CODE = new Map<number, DType>(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType]));

/** Bytes per element. */
export const DTYPE_SIZE: Record<DType, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
  bool: 1,
  bfloat16: 2,
};

export function dtypeCode(d: DType): number {
  const c = DTYPE_CODE[d];
  if (c === undefined)
    throw new DTypeError(`unknown dtype '${d}' (one of ${Object.keys(DTYPE_CODE).join(', ')})`);
  return c;
}

export function dtypeFromCode(c: number): DType {
  const d = BY_CODE.get(c);
  if (!d) throw new DTypeError(`libtorch dtype code ${c} is not supported by eflip`);
  return d;
}

export const isFloating = (d: DType): boolean =>
  d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | Uint16Array;

/** The typed array toTypedArray() returns per dtype (float16/bfloat16 widen to Float32Array). */
export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  float16: Float32Array;
  bfloat16: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export function dtypeOfTypedArray(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  throw new DTypeError(
    `cannot infer a dtype from ${a.constructor.name}; pass {dtype} (Uint16Array holds raw float16/bfloat16 bits)`,
  );
}

export function typedArrayFor(d: DType, buf: ArrayBuffer): TypedArray {
  switch (d) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf);
  }
}
