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
import { Reader } from './onnx_reader.js';

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
  const r = new Reader(b, b.length, source);
  while (r.pos < r.end) {
    const start = r.pos;
    const tag = r.varint();
    const wire = tag & 7;
    const body = wire === 2 ? r.bytes() : (r.skip(wire), undefined);
    out.push({ field: Math.floor(tag / 8), wire, raw: b.subarray(start, r.pos), body });
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
  return concat([
    Uint8Array.from([...varintBytes(field * 8 + 2), ...varintBytes(body.length)]),
    body,
  ]);
}

/** Rewrite the length-delimited sub-messages with the given field numbers; null = unchanged. */
function rewriteMessage(
  b: Uint8Array,
  source: string,
  edit: Record<number, (body: Uint8Array) => Uint8Array | null>,
): Uint8Array | null {
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
export function pinDimensions(
  model: Uint8Array,
  dims: Record<string, number>,
  source = 'ONNX model',
): Uint8Array {
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new RangeError(`pinDimensions: ${k}=${v} is not a positive integer`);
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
