// safetensors read/write on raw bytes (https://huggingface.co/docs/safetensors):
//   u64 little-endian header length N | N bytes JSON header | tensor data (little-endian, C order)
// Header: { "__metadata__": {string: string}, name: {dtype, shape, data_offsets: [begin, end]} }.
// eflip stores its model config (JSON) and labels (JSON array) as metadata strings.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

/** Tensor element types, PyTorch names. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** A tensor as bytes: little-endian, contiguous, C order. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const CODE_TO_DTYPE: Record<string, DType> = {
  F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const DTYPE_TO_CODE: Record<DType, string> = Object.fromEntries(
  Object.entries(CODE_TO_DTYPE).map(([k, v]) => [v, k]),
) as Record<DType, string>;

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parse a whole safetensors file held in memory. Tensor data are copies (safe to keep). */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (bytes.length < 8) throw new SafetensorsError(`${source}: too short to be a safetensors file (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8 || n > 100_000_000) {
    throw new SafetensorsError(`${source}: header length ${n} exceeds the file size ${bytes.length} (not a safetensors file?)`);
  }
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError(`${source}: header is not a JSON object`);
  const base = 8 + n;
  const dataLen = bytes.length - base;
  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== 'object') throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') throw new SafetensorsError(`${source}: __metadata__.${k} is not a string`);
      metadata[k] = v;
    }
  }
  const tensors = new Map<string, RawTensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = CODE_TO_DTYPE[h?.dtype];
    if (!dtype) throw new SafetensorsError(`${source}: tensor '${name}' has unsupported dtype ${JSON.stringify(h?.dtype)}`);
    const shape = h.shape;
    if (!Array.isArray(shape) || !shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0)) {
      throw new SafetensorsError(`${source}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = h.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !Number.isInteger(off[0]) || !Number.isInteger(off[1]) || off[0] < 0 || off[1] < off[0] || off[1] > dataLen) {
      throw new SafetensorsError(`${source}: tensor '${name}' has invalid data_offsets ${JSON.stringify(off)} (data section is ${dataLen} bytes)`);
    }
    const expect = numel(shape) * DTYPE_BYTES[dtype];
    if (off[1] - off[0] !== expect) {
      throw new SafetensorsError(`${source}: tensor '${name}' ${dtype}[${shape.join(',')}] needs ${expect} bytes, offsets give ${off[1] - off[0]}`);
    }
    tensors.set(name, { dtype, shape: [...shape], data: bytes.slice(base + off[0], base + off[1]) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(bytes, path);
}

/** Serialize tensors (in the given order) plus string metadata to safetensors bytes. */
export function serializeSafetensors(
  entries: Iterable<[string, RawTensor]> | Map<string, RawTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata '${k}' must be a string (JSON-encode structured values)`);
    }
    header.__metadata__ = metadata;
  }
  const list = [...entries];
  let off = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new SafetensorsError(`'__metadata__' is not a valid tensor name`);
    if (name in header) throw new SafetensorsError(`duplicate tensor name '${name}'`);
    const code = DTYPE_TO_CODE[t.dtype];
    if (!code) throw new SafetensorsError(`tensor '${name}': unsupported dtype ${t.dtype}`);
    const expect = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expect) {
      throw new SafetensorsError(`tensor '${name}' ${t.dtype}[${t.shape.join(',')}] needs ${expect} bytes, got ${t.data.byteLength}`);
    }
    header[name] = { dtype: code, shape: t.shape, data_offsets: [off, off + expect] };
    off += expect;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8; // keep tensor data 8-byte aligned
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const [, t] of list) {
    out.set(t.data, p);
    p += t.data.byteLength;
  }
  return out;
}

/** Write atomically: a temp file beside the target, fsync, then rename (nothing lost on failure). */
export function writeSafetensors(
  path: string,
  entries: Iterable<[string, RawTensor]> | Map<string, RawTensor>,
  metadata: Record<string, string> = {},
): void {
  const bytes = serializeSafetensors(entries, metadata);
  writeFileAtomic(path, bytes);
}

/** Float32 values of a raw tensor (converted from f64/f16/bf16/ints when needed). */
export function rawToFloat32(t: RawTensor): Float32Array {
  const n = numel(t.shape);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'float16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      break;
    case 'bfloat16': {
      const f = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) { f.setUint32(0, dv.getUint16(i * 2, true) << 16, true); out[i] = f.getFloat32(0, true); }
      break;
    }
    case 'int64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'int32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'int16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'int8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'uint8': case 'bool':
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
      break;
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A raw float32 tensor from values (little-endian). */
export function float32Raw(values: ArrayLike<number>, shape: number[]): RawTensor {
  const n = numel(shape);
  if (values.length !== n) throw new SafetensorsError(`float32Raw: ${values.length} values for shape [${shape.join(',')}]`);
  const f = Float32Array.from(values);
  return { dtype: 'float32', shape: [...shape], data: new Uint8Array(f.buffer) };
}
