// safetensors read/write on raw bytes (https://huggingface.co/docs/safetensors):
//   u64 little-endian header length N | N bytes JSON header | tensor data (little-endian, C order)
// Header: { "__metadata__": {string: string}, name: {dtype, shape, data_offsets: [begin, end]} }.
// eflip stores its model config (JSON) and labels (JSON array) as metadata strings.
import { openSync, closeSync, fstatSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

/** Tensor element types, PyTorch names. */
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
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_CODE: Record<DType, string> = Object.fromEntries(
  Object.entries(CODE_TO_DTYPE).map(([k, v]) => [v, k]),
) as Record<DType, string>;

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Longest header eflip reads (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Most dimensions a tensor may have. */
const MAX_RANK = 8;
/** Most JSON objects ('{') a header may hold: tensors, plus braces inside metadata strings. A
 *  header of a million tiny entries would take V8 tens of seconds to parse; the largest eflip
 *  training checkpoint holds well under 100 000 tensors. */
export const MAX_HEADER_OBJECTS = 200_000;

/** Where one tensor's bytes lie in the data section (after the header). */
export interface TensorEntry {
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** A checked header: every entry lies in the data section, the entries tile it exactly. */
export interface SafetensorsHeader {
  entries: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** file offset of the data section */
  dataStart: number;
  dataBytes: number;
}

/** The header's length (first 8 bytes), checked against the file size before anything else is read. */
export function headerLength(first8: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8 || first8.length < 8)
    throw new SafetensorsError(`${source}: too short to be a safetensors file (${fileSize} bytes)`);
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES)
    throw new SafetensorsError(
      `${source}: header length ${n} is absurd (limit ${MAX_HEADER_BYTES} bytes; not a safetensors file?)`,
    );
  if (n > fileSize - 8)
    throw new SafetensorsError(
      `${source}: header length ${n} exceeds the file size ${fileSize} (truncated, or not a safetensors file?)`,
    );
  if (n < 2)
    throw new SafetensorsError(`${source}: header length ${n} is too short for a JSON header`);
  return n;
}

/**
 * Parse and check a header (the JSON bytes after the length) of a file of `fileSize` bytes:
 * known dtypes, non-negative integer dims, byte sizes that match dtype × shape, offsets inside
 * the data section, and entries that tile it with no overlap and no hole (as the format asks).
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileSize: number,
  source = 'safetensors data',
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid UTF-8 (${(e as Error).message})`);
  }
  let objects = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0x7b) objects++;
  if (objects > MAX_HEADER_OBJECTS)
    throw new SafetensorsError(
      `${source}: header holds ${objects} JSON objects (at most ${MAX_HEADER_OBJECTS}: far more tensors than any model has)`,
    );
  let header: Record<string, any>;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      `${source}: header is not valid JSON (${(e as Error).message.slice(0, 120)})`,
    );
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new SafetensorsError(`${source}: header is not a JSON object`);
  const dataStart = 8 + json.length;
  const dataBytes = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== 'object' || Array.isArray(rawMeta))
      throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string')
        throw new SafetensorsError(`${source}: __metadata__.${k} is not a string`);
      if (k === '__proto__')
        throw new SafetensorsError(`${source}: __metadata__ key '__proto__' is not allowed`);
      metadata[k] = v;
    }
  }
  const entries = new Map<string, TensorEntry>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const what = `${source}: tensor '${name.slice(0, 200)}'`;
    if (h === null || typeof h !== 'object' || Array.isArray(h))
      throw new SafetensorsError(`${what} is not an object {dtype, shape, data_offsets}`);
    const dtype = Object.hasOwn(CODE_TO_DTYPE, h.dtype) ? CODE_TO_DTYPE[h.dtype] : undefined;
    if (!dtype)
      throw new SafetensorsError(
        `${what} has unsupported dtype ${JSON.stringify(h.dtype)?.slice(0, 40)}`,
      );
    const shape = h.shape;
    if (
      !Array.isArray(shape) ||
      shape.length > MAX_RANK ||
      !shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      throw new SafetensorsError(
        `${what} has an invalid shape ${JSON.stringify(shape)?.slice(0, 80)} (at most ${MAX_RANK} non-negative integer dims)`,
      );
    }
    const off = h.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !Number.isSafeInteger(off[0]) ||
      !Number.isSafeInteger(off[1]) ||
      off[0] < 0 ||
      off[1] < off[0] ||
      off[1] > dataBytes
    ) {
      throw new SafetensorsError(
        `${what} has invalid data_offsets ${JSON.stringify(off)?.slice(0, 80)} (data section is ${dataBytes} bytes)`,
      );
    }
    const expect = numel(shape) * DTYPE_BYTES[dtype];
    if (off[1] - off[0] !== expect) {
      throw new SafetensorsError(
        `${what} ${dtype}[${shape.join(',')}] needs ${expect} bytes, offsets give ${off[1] - off[0]}`,
      );
    }
    entries.set(name, { dtype, shape: [...shape], begin: off[0], end: off[1] });
  }
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  let prev = '';
  for (const [name, e] of sorted) {
    if (e.begin < at)
      throw new SafetensorsError(
        `${source}: tensors '${prev}' and '${name}' overlap (bytes ${e.begin}-${at} of the data section)`,
      );
    if (e.begin > at)
      throw new SafetensorsError(
        `${source}: bytes ${at}-${e.begin} of the data section belong to no tensor (a hole; not a well-formed safetensors file)`,
      );
    at = e.end;
    prev = name;
  }
  if (at !== dataBytes)
    throw new SafetensorsError(
      `${source}: the last ${dataBytes - at} bytes of the file belong to no tensor (not a well-formed safetensors file)`,
    );
  return { entries, metadata, dataStart, dataBytes };
}

/** Parse a whole safetensors file held in memory. Tensor data are copies (safe to keep). */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const n = headerLength(bytes.subarray(0, 8), bytes.length, source);
  const h = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, source);
  const tensors = new Map<string, RawTensor>();
  for (const [name, e] of h.entries)
    tensors.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      data: bytes.slice(h.dataStart + e.begin, h.dataStart + e.end),
    });
  return { tensors, metadata: h.metadata };
}

/** Read bytes [pos, pos+n) of an open file. */
function readAt(fd: number, pos: number, n: number, source: string): Uint8Array {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = readSync(fd, out, got, n - got, pos + got);
    if (r === 0)
      throw new SafetensorsError(`${source}: file ended early (it changed while being read?)`);
    got += r;
  }
  return out;
}

function openForRead(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new SafetensorsError(`${path}: not a regular file`);
  }
  return { fd, size: st.size };
}

/** The checked header of a file, reading nothing past it. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const { fd, size } = openForRead(path);
  try {
    const n = headerLength(readAt(fd, 0, Math.min(8, size), path), size, path);
    return parseSafetensorsHeader(readAt(fd, 8, n, path), size, path);
  } finally {
    closeSync(fd);
  }
}

/** The data section of a file whose header was checked, as tensors (views of one fresh buffer). */
export function readSafetensorsData(path: string, h: SafetensorsHeader): SafetensorsFile {
  const { fd, size } = openForRead(path);
  try {
    if (size !== h.dataStart + h.dataBytes)
      throw new SafetensorsError(`${path}: the file changed size while being read`);
    const data = readAt(fd, h.dataStart, h.dataBytes, path);
    const tensors = new Map<string, RawTensor>();
    for (const [name, e] of h.entries)
      tensors.set(name, { dtype: e.dtype, shape: e.shape, data: data.subarray(e.begin, e.end) });
    return { tensors, metadata: h.metadata };
  } finally {
    closeSync(fd);
  }
}

export function readSafetensors(path: string): SafetensorsFile {
  return readSafetensorsData(path, readSafetensorsHeader(path));
}

/** Serialize tensors (in the given order) plus string metadata to safetensors bytes. */
export function serializeSafetensors(
  entries: Iterable<[string, RawTensor]> | Map<string, RawTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new SafetensorsError(
          `metadata '${k}' must be a string (JSON-encode structured values)`,
        );
    }
    header.__metadata__ = metadata;
  }
  const list = [...entries];
  let off = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__')
      throw new SafetensorsError(`'__metadata__' is not a valid tensor name`);
    if (name in header) throw new SafetensorsError(`duplicate tensor name '${name}'`);
    const code = DTYPE_TO_CODE[t.dtype];
    if (!code) throw new SafetensorsError(`tensor '${name}': unsupported dtype ${t.dtype}`);
    const expect = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expect) {
      throw new SafetensorsError(
        `tensor '${name}' ${t.dtype}[${t.shape.join(',')}] needs ${expect} bytes, got ${t.data.byteLength}`,
      );
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
      for (let i = 0; i < n; i++) {
        f.setUint32(0, dv.getUint16(i * 2, true) << 16, true);
        out[i] = f.getFloat32(0, true);
      }
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
    case 'uint8':
    case 'bool':
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
  if (values.length !== n)
    throw new SafetensorsError(
      `float32Raw: ${values.length} values for shape [${shape.join(',')}]`,
    );
  const f = Float32Array.from(values);
  return { dtype: 'float32', shape: [...shape], data: new Uint8Array(f.buffer) };
}
