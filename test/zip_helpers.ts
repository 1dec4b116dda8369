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
