// A small read-only zip reader (central directory + local headers, zip64, stored/deflate),
// enough for torch.save's zip container. Entries are read lazily, one at a time.
// Format: PKWARE APPNOTE 6.3 (EOCD 0x06054b50, zip64 EOCD 0x06064b50 + locator 0x07064b50,
// central header 0x02014b50, local header 0x04034b50).
import { inflateRawSync } from 'node:zlib';

export class ZipError extends Error {
  override name = 'ZipError';
}

export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly source = 'zip data') {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  static isZip(bytes: Uint8Array): boolean {
    return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  }

  private u16(o: number): number { return this.dv.getUint16(o, true); }
  private u32(o: number): number { return this.dv.getUint32(o, true); }
  private u64(o: number): number {
    const v = this.dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${this.source}: 64-bit field too large`);
    return Number(v);
  }
  private need(o: number, n: number, what: string): void {
    if (o < 0 || o + n > this.bytes.length) throw new ZipError(`${this.source}: truncated zip (${what} at ${o})`);
  }

  private readCentralDirectory(): void {
    const len = this.bytes.length;
    if (len < 22) throw new ZipError(`${this.source}: too short to be a zip file`);
    let eocd = -1;
    for (let o = len - 22; o >= Math.max(0, len - 22 - 0xffff); o--) {
      if (this.u32(o) === 0x06054b50) { eocd = o; break; }
    }
    if (eocd < 0) throw new ZipError(`${this.source}: no zip end-of-central-directory record (truncated or not a zip file)`);
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== 0x07064b50) throw new ZipError(`${this.source}: zip64 locator missing`);
      const z = this.u64(loc + 8);
      this.need(z, 56, 'zip64 end record');
      if (this.u32(z) !== 0x06064b50) throw new ZipError(`${this.source}: bad zip64 end record`);
      count = this.u64(z + 32);
      cdSize = this.u64(z + 40);
      cdOffset = this.u64(z + 48);
    }
    this.need(cdOffset, cdSize, 'central directory');
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      this.need(p, 46, 'central header');
      if (this.u32(p) !== 0x02014b50) throw new ZipError(`${this.source}: bad central directory header #${i}`);
      const flags = this.u16(p + 8);
      const method = this.u16(p + 10);
      let compressedSize = this.u32(p + 20);
      let size = this.u32(p + 24);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const commentLen = this.u16(p + 32);
      let localHeaderOffset = this.u32(p + 42);
      this.need(p + 46, nameLen + extraLen + commentLen, 'central header name');
      const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64 extra field (id 1): only the fields that overflowed, in order usize, csize, offset
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = this.u16(e);
        const sz = this.u16(e + 2);
        if (id === 1) {
          let q = e + 4;
          if (size === 0xffffffff) { size = this.u64(q); q += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = this.u64(q); q += 8; }
          if (localHeaderOffset === 0xffffffff) { localHeaderOffset = this.u64(q); q += 8; }
        }
        e += 4 + sz;
      }
      if (flags & 1) throw new ZipError(`${this.source}: entry '${name}' is encrypted`);
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The bytes of one entry (a view into the file for stored entries, no copy). */
  read(name: string): Uint8Array {
    const ent = this.entries.get(name);
    if (!ent) throw new ZipError(`${this.source}: no entry '${name}' in the archive`);
    const o = ent.localHeaderOffset;
    this.need(o, 30, `local header of '${name}'`);
    if (this.u32(o) !== 0x04034b50) throw new ZipError(`${this.source}: bad local header for '${name}'`);
    const start = o + 30 + this.u16(o + 26) + this.u16(o + 28);
    this.need(start, ent.compressedSize, `data of '${name}'`);
    const raw = this.bytes.subarray(start, start + ent.compressedSize);
    if (ent.method === 0) {
      if (ent.size !== ent.compressedSize) throw new ZipError(`${this.source}: stored entry '${name}' has inconsistent sizes`);
      return raw;
    }
    if (ent.method === 8) {
      let out: Buffer;
      try {
        out = inflateRawSync(raw);
      } catch (e) {
        throw new ZipError(`${this.source}: cannot inflate '${name}': ${(e as Error).message}`);
      }
      if (out.length !== ent.size) throw new ZipError(`${this.source}: '${name}' inflated to ${out.length} bytes, expected ${ent.size}`);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    throw new ZipError(`${this.source}: entry '${name}' uses unsupported compression method ${ent.method}`);
  }
}
