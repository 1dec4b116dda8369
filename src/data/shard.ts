// Shard files: many decoded clips in one file, readable by random access.
//
// Layout (little-endian):
//   bytes 0-7   magic "EFLIPSH1"
//   bytes 8-11  u32 header length L
//   bytes 12..  L bytes of UTF-8 JSON ShardHeader
//   then        the clips' uint8 frames back to back (record.offset is from the file start),
//               each T·H·W·C, frame-major, HWC inside a frame.
// A shard is written to a temporary name and renamed, so a shard file that exists is complete.
import { promises as fsp, openSync, readSync, closeSync } from 'node:fs';

export const SHARD_MAGIC = 'EFLIPSH1';

export interface ShardRecord {
  /** source clip (absolute path) */
  path: string;
  label: number;
  word: string;
  /** word duration (s) from the .txt; null when missing */
  duration: number | null;
  frames: number;
  /** byte offset of the frames in the shard file */
  offset: number;
}

export interface ShardHeader {
  version: 1;
  split: string;
  height: number;
  width: number;
  channels: number;
  fps: number;
  crop: string;
  records: ShardRecord[];
  /** clips assigned to this shard that could not be decoded, with the reason */
  skipped: { path: string; reason: string; kind: string }[];
}

export class ShardError extends Error {
  override name = 'ShardError';
}

export interface ShardClip {
  path: string;
  label: number;
  word: string;
  duration: number | null;
  data: Uint8Array;
  frames: number;
}

/** Write a shard atomically (temp file + rename). */
export async function writeShard(file: string, meta: Omit<ShardHeader, 'records' | 'version'>, clips: ShardClip[]): Promise<ShardHeader> {
  const frameBytes = meta.height * meta.width * meta.channels;
  const records: ShardRecord[] = clips.map((c) => ({ path: c.path, label: c.label, word: c.word, duration: c.duration, frames: c.frames, offset: 0 }));
  // offsets depend on the header's length: size it with offsets of the final magnitude plus
  // slack (each offset can gain at most one digit), then pad the JSON to that length
  const place = (headerLen: number) => {
    let off = 12 + headerLen;
    for (let i = 0; i < records.length; i++) { records[i].offset = off; off += clips[i].frames * frameBytes; }
    return JSON.stringify({ version: 1, ...meta, records } satisfies ShardHeader);
  };
  const headerLen = Buffer.byteLength(place(0)) + 16 + records.length;
  const json = place(headerLen);
  const hb = Buffer.from(json.padEnd(headerLen + json.length - Buffer.byteLength(json)), 'utf8');
  if (hb.length !== headerLen) throw new ShardError(`shard header size mismatch (${hb.length} vs ${headerLen})`);
  const head = Buffer.alloc(12);
  head.write(SHARD_MAGIC, 0, 'latin1');
  head.writeUInt32LE(headerLen, 8);
  for (const c of clips) if (c.data.length !== c.frames * frameBytes) throw new ShardError(`${c.path}: ${c.data.length} bytes, expected ${c.frames}·${frameBytes}`);
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.write(head);
    await fh.write(hb);
    for (const c of clips) await fh.write(c.data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  return { version: 1, ...meta, records };
}

/** Read just the header (cheap). */
export function readShardHeader(file: string): ShardHeader {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString('latin1', 0, 8) !== SHARD_MAGIC) throw new ShardError(`${file}: not an eflip shard`);
    const len = head.readUInt32LE(8);
    const hb = Buffer.alloc(len);
    if (readSync(fd, hb, 0, len, 12) !== len) throw new ShardError(`${file}: truncated shard header`);
    const h = JSON.parse(hb.toString('utf8')) as ShardHeader;
    if (h.version !== 1) throw new ShardError(`${file}: unsupported shard version ${h.version}`);
    return h;
  } finally {
    closeSync(fd);
  }
}

/** Random-access reader over one shard (keeps a file descriptor open). */
export class ShardReader {
  readonly header: ShardHeader;
  private fd: number;
  constructor(readonly file: string) {
    this.header = readShardHeader(file);
    this.fd = openSync(file, 'r');
  }
  get frameBytes(): number {
    return this.header.height * this.header.width * this.header.channels;
  }
  /** The frames of record i (into `into` when given, which must be large enough). */
  read(i: number, into?: Uint8Array): Uint8Array {
    const r = this.header.records[i];
    if (!r) throw new ShardError(`${this.file}: no record ${i}`);
    const n = r.frames * this.frameBytes;
    const buf = into ? into.subarray(0, n) : new Uint8Array(n);
    const got = readSync(this.fd, buf, 0, n, r.offset);
    if (got !== n) throw new ShardError(`${this.file}: record ${i} truncated (${got}/${n} bytes)`);
    return buf;
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
