// A small read-only zip reader (central directory + local headers, zip64, stored/deflate),
// enough for torch.save's zip container. Entries are read lazily, one at a time, from memory or
// straight from the file (only the central directory and the entries asked for are read).
// Every size is checked before the work: an entry is read only up to a limit the caller gives,
// a deflated entry never inflates past its declared size, all deflated entries together never
// inflate past a small multiple of the file's size, and duplicate names and entries that share
// bytes (two names on one local header or deflate stream) are refused.
// Format: PKWARE APPNOTE 6.3 (EOCD 0x06054b50, zip64 EOCD 0x06064b50 + locator 0x07064b50,
// central header 0x02014b50, local header 0x04034b50).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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

/** Random access to the bytes of a zip: a buffer in memory or a file read on demand. */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes at `offset`; the caller has checked that they lie inside `size`. */
  read(offset: number, length: number): Uint8Array;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (o, n) => bytes.subarray(o, o + n) };
}

/** A file read on demand (opened per read: nothing to close, and the file is never written). */
export function fileSource(path: string): ByteSource {
  // non-blocking: opening a FIFO must not wait for a writer; only regular files are read
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ZipError(`${path}: not a regular file`);
    size = st.size;
  } finally {
    closeSync(fd);
  }
  return {
    size,
    read(o, n) {
      const out = new Uint8Array(n);
      const f = openSync(path, 'r');
      try {
        let got = 0;
        while (got < n) {
          const k = readSync(f, out, got, n - got, o + got);
          if (k === 0)
            throw new ZipError(
              `${path}: file shrank while being read (${o + got} of ${size} bytes)`,
            );
          got += k;
        }
      } finally {
        closeSync(f);
      }
      return out;
    },
  };
}

/** Deflate cannot produce more than ~1032 bytes per compressed byte. */
const MAX_DEFLATE_RATIO = 1032;
/** A central directory bigger than this is not a checkpoint's (torch.save: ~100 bytes per tensor). */
const MAX_CENTRAL_DIRECTORY = 64 << 20;
/**
 * All deflated entries of one archive inflate to at most INFLATE_FLOOR + INFLATE_RATIO × the
 * archive's size. torch.save stores its entries uncompressed, and re-compressed weights shrink
 * little (a trained float tensor deflates to ~90 %), so a file that inflates to many times its
 * size is a zip bomb: 2.5 MB of deflate declaring a 2 GB storage, read whole for a 10-element view.
 */
export const INFLATE_FLOOR = 64 << 20;
export const INFLATE_RATIO = 8;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  /** The most bytes all deflated entries may inflate to, together (INFLATE_FLOOR, INFLATE_RATIO). */
  readonly maxInflated: number;
  private inflated = 0;
  private readonly inflatedNames = new Set<string>();
  /** Where each entry's bytes must end: the next local header, the central directory or the file's end. */
  private readonly ends = new Map<string, number>();
  private readonly src: ByteSource;

  constructor(
    bytes: Uint8Array | ByteSource,
    private readonly source = 'zip data',
  ) {
    this.src = bytes instanceof Uint8Array ? memorySource(bytes) : bytes;
    this.maxInflated = INFLATE_FLOOR + INFLATE_RATIO * this.src.size;
    this.readCentralDirectory();
  }

  static isZip(bytes: Uint8Array): boolean {
    return (
      bytes.length >= 4 &&
      bytes[0] === 0x50 &&
      bytes[1] === 0x4b &&
      bytes[2] === 0x03 &&
      bytes[3] === 0x04
    );
  }

  /** `n` bytes at `o` (refused when they are not all in the file), with a little-endian view. */
  private at(o: number, n: number, what: string): { b: Uint8Array; dv: DataView } {
    if (o < 0 || n < 0 || o + n > this.src.size)
      throw new ZipError(
        `${this.source}: truncated zip (${what} at offset ${o}, ${n} bytes, file has ${this.src.size})`,
      );
    const b = this.src.read(o, n);
    return { b, dv: new DataView(b.buffer, b.byteOffset, b.byteLength) };
  }

  private u64(dv: DataView, o: number): number {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new ZipError(`${this.source}: 64-bit zip field too large (corrupt zip)`);
    return Number(v);
  }

  private readCentralDirectory(): void {
    const len = this.src.size;
    if (len < 22) throw new ZipError(`${this.source}: too short to be a zip file (${len} bytes)`);
    const tailStart = Math.max(0, len - 22 - 0xffff);
    const tail = this.at(tailStart, len - tailStart, 'end of file');
    let eocd = -1;
    for (let o = tail.b.length - 22; o >= 0; o--) {
      if (tail.dv.getUint32(o, true) === 0x06054b50) {
        eocd = o;
        break;
      }
    }
    if (eocd < 0)
      throw new ZipError(
        `${this.source}: no zip end-of-central-directory record (truncated or not a zip file)`,
      );
    let count = tail.dv.getUint16(eocd + 10, true);
    let cdSize = tail.dv.getUint32(eocd + 12, true);
    let cdOffset = tail.dv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = this.at(tailStart + eocd - 20, 20, 'zip64 locator');
      if (loc.dv.getUint32(0, true) !== 0x07064b50)
        throw new ZipError(`${this.source}: zip64 locator missing (truncated or corrupt zip)`);
      const z = this.at(this.u64(loc.dv, 8), 56, 'zip64 end record');
      if (z.dv.getUint32(0, true) !== 0x06064b50)
        throw new ZipError(`${this.source}: bad zip64 end record (corrupt zip)`);
      count = this.u64(z.dv, 32);
      cdSize = this.u64(z.dv, 40);
      cdOffset = this.u64(z.dv, 48);
    }
    if (cdSize > MAX_CENTRAL_DIRECTORY)
      throw new ZipError(
        `${this.source}: zip central directory of ${cdSize} bytes exceeds the ${MAX_CENTRAL_DIRECTORY}-byte limit`,
      );
    if (count * 46 > cdSize)
      throw new ZipError(
        `${this.source}: zip declares ${count} entries but its central directory has only ${cdSize} bytes (truncated or corrupt zip)`,
      );
    const { b: cd, dv } = this.at(cdOffset, cdSize, 'central directory');
    const spans: { name: string; start: number; min: number }[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length)
        throw new ZipError(`${this.source}: truncated zip (central header #${i})`);
      if (dv.getUint32(p, true) !== 0x02014b50)
        throw new ZipError(`${this.source}: bad central directory header #${i} (corrupt zip)`);
      const flags = dv.getUint16(p + 8, true);
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length)
        throw new ZipError(`${this.source}: truncated zip (central header #${i} name)`);
      const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(
        cd.subarray(p + 46, p + 46 + nameLen),
      );
      // zip64 extra field (id 1): only the fields that overflowed, in order usize, csize, offset
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = dv.getUint16(e, true);
        const sz = dv.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          const field = () => {
            if (q + 8 > Math.min(eEnd, e + 4 + sz))
              throw new ZipError(
                `${this.source}: entry '${name}' has a short zip64 field (corrupt zip)`,
              );
            const v = this.u64(dv, q);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = field();
          if (compressedSize === 0xffffffff) compressedSize = field();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = field();
        }
        e += 4 + sz;
      }
      if (flags & 1) throw new ZipError(`${this.source}: entry '${name}' is encrypted`);
      if (this.entries.has(name))
        throw new ZipError(
          `${this.source}: zip holds two entries named '${name}' (ambiguous; corrupt or tampered archive)`,
        );
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      spans.push({ name, start: localHeaderOffset, min: 30 + nameLen + compressedSize });
      p += 46 + nameLen + extraLen + commentLen;
    }
    // No two entries may share bytes: each one ends before the next local header (or the central
    // directory), so the file's bytes are read at most once. (Four central headers naming one
    // local header and its 600 MB deflate stream made a 1 MB file inflate 2.4 GB.) The exact
    // end of each entry's data, which needs its local header, is checked when it is read.
    spans.sort((a, b) => a.start - b.start);
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      const next = spans[i + 1];
      const end = next ? next.start : cdOffset >= s.start ? cdOffset : len;
      if (s.start + s.min > end)
        throw new ZipError(
          next
            ? `${this.source}: zip entry '${s.name}' (at offset ${s.start}, ${s.min} bytes with its header) overlaps entry '${next.name}' at offset ${next.start} (corrupt or tampered archive)`
            : `${this.source}: zip entry '${s.name}' (at offset ${s.start}, ${s.min} bytes with its header) runs past offset ${end}, where ${end === cdOffset ? 'the central directory starts' : 'the file ends'} (corrupt or tampered archive)`,
        );
      this.ends.set(s.name, end);
    }
  }

  /**
   * Refuses, before any is read, deflated entries (those not read yet) that together would take
   * the archive past `maxInflated`: what read() checks one entry at a time.
   */
  checkInflate(names: Iterable<string>): void {
    let total = this.inflated;
    for (const name of new Set(names)) {
      const ent = this.entries.get(name);
      if (!ent || ent.method !== 8 || this.inflatedNames.has(name)) continue;
      total += ent.size;
      if (total > this.maxInflated) throw this.overInflated(name, ent.size, total);
    }
  }

  private overInflated(name: string, size: number, total: number): ZipError {
    return new ZipError(
      `${this.source}: zip entry '${name}' would inflate to ${size} bytes${total !== size ? ` (${total} in all)` : ''} from a ${this.src.size}-byte file, over the ${this.maxInflated}-byte limit (${INFLATE_FLOOR >> 20} MiB + ${INFLATE_RATIO} × the file's size; torch.save stores its entries uncompressed): a zip bomb`,
    );
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * The bytes of one entry, refused before anything is read or inflated when its declared size
   * exceeds `maxBytes` or, deflated, would take the archive's inflated bytes past `maxInflated`;
   * a deflated entry stops inflating at its declared size.
   */
  read(name: string, maxBytes: number): Uint8Array {
    const ent = this.entries.get(name);
    if (!ent) throw new ZipError(`${this.source}: no entry '${name}' in the archive`);
    if (ent.size > maxBytes)
      throw new ZipError(
        `${this.source}: zip entry '${name}' declares ${ent.size} bytes, over the ${maxBytes}-byte limit for it`,
      );
    if (ent.method !== 0 && ent.method !== 8)
      throw new ZipError(
        `${this.source}: entry '${name}' uses unsupported compression method ${ent.method}`,
      );
    if (ent.method === 0 && ent.size !== ent.compressedSize)
      throw new ZipError(
        `${this.source}: stored entry '${name}' has inconsistent sizes (corrupt zip)`,
      );
    if (ent.method === 8 && ent.size > ent.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new ZipError(
        `${this.source}: zip entry '${name}' declares ${ent.size} bytes from ${ent.compressedSize} compressed bytes, more than deflate can produce (corrupt zip)`,
      );
    }
    const h = this.at(ent.localHeaderOffset, 30, `local header of '${name}'`);
    if (h.dv.getUint32(0, true) !== 0x04034b50)
      throw new ZipError(`${this.source}: bad local header for '${name}' (corrupt zip)`);
    const start = ent.localHeaderOffset + 30 + h.dv.getUint16(26, true) + h.dv.getUint16(28, true);
    const end = this.ends.get(name)!;
    if (start + ent.compressedSize > end)
      throw new ZipError(
        `${this.source}: data of zip entry '${name}' (offset ${start}, ${ent.compressedSize} bytes) runs past offset ${end}, where the next entry, the central directory or the file's end is (corrupt or tampered archive)`,
      );
    if (ent.method === 8) {
      if (this.inflated + ent.size > this.maxInflated)
        throw this.overInflated(name, ent.size, this.inflated + ent.size);
      this.inflated += ent.size;
      this.inflatedNames.add(name);
    }
    const raw = this.at(start, ent.compressedSize, `data of '${name}'`).b;
    if (ent.method === 0) return raw;
    let out: Buffer;
    try {
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, ent.size) });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE')
        throw new ZipError(
          `${this.source}: zip entry '${name}' inflates past its declared ${ent.size} bytes (corrupt or zip bomb)`,
        );
      throw new ZipError(`${this.source}: cannot inflate '${name}': ${(e as Error).message}`);
    }
    if (out.length !== ent.size)
      throw new ZipError(
        `${this.source}: '${name}' inflated to ${out.length} bytes, expected ${ent.size}`,
      );
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}
