// Zip files built by hand for tests (the container torch.save writes, and crafted bad ones): the
// one builder test/io.test.ts and test/hostile_model.test.ts share.
import { crc32 } from 'node:zlib';

/**
 * A zip of `[name, bytes, method, declared size]` entries: method 0 (stored, the default) or 8
 * (bytes already deflated); the declared uncompressed size defaults to the bytes' length (a
 * different one crafts a lying entry). Stored entries get their CRC-32; version 2.0 throughout.
 */
export function zipOf(entries: [string, Uint8Array, number?, number?][]): Buffer {
  const locals: Buffer[] = [],
    centrals: Buffer[] = [];
  let off = 0;
  for (const [n, data, method = 0, size = data.length] of entries) {
    const name = Buffer.from(n);
    const crc = method === 0 ? crc32(data) : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(off, 42);
    locals.push(local, name, Buffer.from(data));
    centrals.push(cd, name);
    off += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/**
 * `zip` (from zipOf) with more central-directory entries, `aliases`, that copy the one of `of`
 * under new names: they point at its local header and data (a tampered archive whose entries
 * share bytes).
 */
export function withAliases(zip: Buffer, of: string, aliases: string[]): Buffer {
  const eocd = zip.length - 22;
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  const cd = zip.subarray(cdOffset, cdOffset + cdSize);
  let p = 0;
  let header: Buffer | null = null;
  while (p < cd.length) {
    const nameLen = cd.readUInt16LE(p + 28);
    const len = 46 + nameLen + cd.readUInt16LE(p + 30) + cd.readUInt16LE(p + 32);
    if (cd.subarray(p + 46, p + 46 + nameLen).toString() === of) header = cd.subarray(p, p + 46);
    p += len;
  }
  if (!header) throw new Error(`withAliases: no entry '${of}'`);
  const extra = aliases.map((a) => {
    const h = Buffer.from(header);
    const name = Buffer.from(a);
    h.writeUInt16LE(name.length, 28);
    h.writeUInt16LE(0, 30);
    h.writeUInt16LE(0, 32);
    return Buffer.concat([h, name]);
  });
  const newCd = Buffer.concat([cd, ...extra]);
  const end = Buffer.from(zip.subarray(eocd));
  end.writeUInt16LE(count + aliases.length, 8);
  end.writeUInt16LE(count + aliases.length, 10);
  end.writeUInt32LE(newCd.length, 12);
  return Buffer.concat([zip.subarray(0, cdOffset), newCd, end]);
}
