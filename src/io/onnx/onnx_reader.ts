// Reads what eflip needs back from an ONNX file without a protobuf library: it walks the
// ModelProto's top-level fields (validating the wire format, so truncated or corrupt files
// fail here with a clear message) and returns opset, producer and metadata props.

export class OnnxFileError extends Error {
  override name = 'OnnxFileError';
}

export interface OnnxSummary {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opset: number;
  metadata: Record<string, string>;
  /** bytes of the GraphProto */
  graphBytes: number;
}

/** Protobuf wire-format cursor over b[pos, end) that fails with an OnnxFileError naming the source. */
export class Reader {
  pos = 0;
  constructor(
    readonly b: Uint8Array,
    readonly end: number,
    readonly source: string,
  ) {}
  fail(what: string): never {
    throw new OnnxFileError(
      `${this.source}: not a valid ONNX model (${what} at byte ${this.pos}; truncated or corrupt file?)`,
    );
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('unexpected end of data');
      const byte = this.b[this.pos++];
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80)) return result;
    }
    this.fail('malformed varint');
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail(`field of ${n} bytes runs past the end`);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.end) this.fail('unexpected end of data');
  }
}

const utf8 = new TextDecoder('utf-8');

function readStringPair(b: Uint8Array, source: string): [string, string] {
  const r = new Reader(b, b.length, source);
  let k = '';
  let v = '';
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag >>> 3 === 1 && (tag & 7) === 2) k = utf8.decode(r.bytes());
    else if (tag >>> 3 === 2 && (tag & 7) === 2) v = utf8.decode(r.bytes());
    else r.skip(tag & 7);
  }
  return [k, v];
}

export function readOnnxSummary(bytes: Uint8Array, source = 'ONNX data'): OnnxSummary {
  if (bytes.length < 8)
    throw new OnnxFileError(`${source}: too short to be an ONNX model (${bytes.length} bytes)`);
  const r = new Reader(bytes, bytes.length, source);
  const s: OnnxSummary = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    opset: 0,
    metadata: {},
    graphBytes: 0,
  };
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) s.irVersion = r.varint();
    else if (field === 2 && wire === 2) s.producerName = utf8.decode(r.bytes());
    else if (field === 3 && wire === 2) s.producerVersion = utf8.decode(r.bytes());
    else if (field === 7 && wire === 2) s.graphBytes = r.bytes().length;
    else if (field === 8 && wire === 2) {
      const sub = r.bytes();
      const rr = new Reader(sub, sub.length, source);
      let domain = '';
      let version = 0;
      while (rr.pos < rr.end) {
        const t = rr.varint();
        if (t >>> 3 === 1 && (t & 7) === 2) domain = utf8.decode(rr.bytes());
        else if (t >>> 3 === 2 && (t & 7) === 0) version = rr.varint();
        else rr.skip(t & 7);
      }
      if (domain === '' || domain === 'ai.onnx') s.opset = version;
    } else if (field === 14 && wire === 2) {
      const [k, v] = readStringPair(r.bytes(), source);
      s.metadata[k] = v;
    } else if (field === 0) r.fail('field number 0');
    else r.skip(wire);
  }
  if (!s.irVersion || !s.graphBytes)
    throw new OnnxFileError(`${source}: not a valid ONNX model (no IR version or no graph)`);
  return s;
}
