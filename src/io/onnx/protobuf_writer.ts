// Minimal protocol-buffers wire-format writer (https://protobuf.dev/programming-guides/encoding/).
// Enough for the ONNX messages we emit: varints (incl. negative int64), fixed32 floats,
// length-delimited strings/bytes/sub-messages and packed repeated scalars.

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/** Accumulates chunks; `finish()` concatenates them once. Sub-messages are encoded separately
 *  and embedded with `message()`, so each large payload is copied a bounded number of times. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  private flushScratch(): void {
    if (this.scratch.length) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.length += this.scratch.length;
      this.scratch = [];
    }
  }

  private pushBytes(b: Uint8Array): void {
    this.flushScratch();
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Unsigned or signed 64-bit varint (negative numbers use ten bytes, two's complement). */
  private rawVarint(v: number | bigint): void {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v))
        throw new RangeError(`protobuf varint: ${v} is not a safe integer`);
      if (v >= 0 && v < 2 ** 31) {
        let n = v;
        while (n > 0x7f) {
          this.scratch.push((n & 0x7f) | 0x80);
          n >>>= 7;
        }
        this.scratch.push(n);
        return;
      }
      v = BigInt(v);
    }
    let n = BigInt.asUintN(64, v);
    while (n > 0x7fn) {
      this.scratch.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.scratch.push(Number(n));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  varint(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.scratch.push(x);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(b.length);
    this.pushBytes(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** An embedded message (already encoded). */
  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded);
  }

  /** Packed repeated varints (int64/int32 lists). */
  packedVarints(field: number, values: ArrayLike<number | bigint>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.rawVarint(values[i]);
    return this.bytes(field, inner.finish());
  }

  /** Packed repeated floats (fixed32, little-endian). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
