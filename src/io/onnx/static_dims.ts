// Pin symbolic dimensions of a model's inputs/outputs (e.g. batch=1, time=29) by rewriting the
// protobuf in place of a protobuf library: ModelProto.graph (7) → GraphProto.input (11) /
// output (12) → ValueInfoProto.type (2) → TypeProto.tensor_type (1) → shape (2) → dim (1), whose
// dim_param (2) becomes dim_value (1). Everything else is copied byte for byte.
//
// Why: onnxruntime's NCHWc layout pass can only keep an element-wise op in the blocked layout
// when it can prove both operands have the same shape; with a symbolic batch it cannot (the
// SE gate of every MBConv block then costs two reorders and a slow broadcasting Mul). A
// session for a pinned shape keeps the whole trunk blocked (T, batch 1: ~10 % faster).
// onnxruntime-node ignores the `freeDimensionOverrides` session option, hence this rewrite.
import { OnnxFileError } from './onnx_reader.js';

function varintBytes(v: number): number[] {
  const out: number[] = [];
  let n = v;
  while (n > 0x7f) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

interface Field {
  field: number;
  wire: number;
  /** the whole field, tag included */
  raw: Uint8Array;
  /** payload of a length-delimited field */
  body?: Uint8Array;
}

function fields(b: Uint8Array, source: string): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const fail = (what: string): never => {
    throw new OnnxFileError(`${source}: not a valid ONNX model (${what} at byte ${pos})`);
  };
  const varint = (): number => {
    let r = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= b.length) fail('unexpected end of data');
      const x = b[pos++];
      r += (x & 0x7f) * mul;
      mul *= 128;
      if (!(x & 0x80)) return r;
    }
    return fail('malformed varint');
  };
  while (pos < b.length) {
    const start = pos;
    const tag = varint();
    const wire = tag & 7;
    let body: Uint8Array | undefined;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const n = varint();
      body = b.subarray(pos, pos + n);
      pos += n;
    } else fail(`unsupported wire type ${wire}`);
    if (pos > b.length) fail('field runs past the end');
    out.push({ field: Math.floor(tag / 8), wire, raw: b.subarray(start, pos), body });
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function lenField(field: number, body: Uint8Array): Uint8Array {
  return concat([Uint8Array.from([...varintBytes(field * 8 + 2), ...varintBytes(body.length)]), body]);
}

/** Rewrite the length-delimited sub-messages with the given field numbers; null = unchanged. */
function rewriteMessage(b: Uint8Array, source: string, edit: Record<number, (body: Uint8Array) => Uint8Array | null>): Uint8Array | null {
  let changed = false;
  const parts = fields(b, source).map((f) => {
    const fn = edit[f.field];
    if (!fn || f.wire !== 2 || !f.body) return f.raw;
    const nb = fn(f.body);
    if (!nb) return f.raw;
    changed = true;
    return lenField(f.field, nb);
  });
  return changed ? concat(parts) : null;
}

const utf8 = new TextDecoder('utf-8');

/** A copy of the model with the named symbolic dims of graph inputs/outputs fixed. */
export function pinDimensions(model: Uint8Array, dims: Record<string, number>, source = 'ONNX model'): Uint8Array {
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`pinDimensions: ${k}=${v} is not a positive integer`);
  }
  const dim = (body: Uint8Array): Uint8Array | null => {
    const fs = fields(body, source);
    const param = fs.find((f) => f.field === 2 && f.wire === 2);
    if (!param?.body) return null;
    const v = dims[utf8.decode(param.body)];
    if (v === undefined) return null;
    return Uint8Array.from([0x08, ...varintBytes(v)]); // dim_value = v
  };
  const shape = (b: Uint8Array) => rewriteMessage(b, source, { 1: dim });
  const tensorType = (b: Uint8Array) => rewriteMessage(b, source, { 2: shape });
  const type = (b: Uint8Array) => rewriteMessage(b, source, { 1: tensorType });
  const valueInfo = (b: Uint8Array) => rewriteMessage(b, source, { 2: type });
  const graph = (b: Uint8Array) => rewriteMessage(b, source, { 11: valueInfo, 12: valueInfo });
  return rewriteMessage(model, source, { 7: graph }) ?? model;
}
