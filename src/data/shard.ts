// Shard files: many decoded clips in one file, readable by random access.
//
// Layout (little-endian):
//   bytes 0-7   magic "EFLIPSH1"
//   bytes 8-11  u32 header length L
//   bytes 12..  L bytes of UTF-8 JSON ShardHeader
//   then        the clips' uint8 frames back to back (record.offset is from the file start),
//               each T·H·W·C, frame-major, HWC inside a frame.
// A shard is written to a temporary name and renamed, so a shard file that exists is complete.
import { promises as fsp, openSync, readSync, closeSync, fstatSync } from 'node:fs';

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
export async function writeShard(
  file: string,
  meta: Omit<ShardHeader, 'records' | 'version'>,
  clips: ShardClip[],
): Promise<ShardHeader> {
  const frameBytes = meta.height * meta.width * meta.channels;
  const records: ShardRecord[] = clips.map((c) => ({
    path: c.path,
    label: c.label,
    word: c.word,
    duration: c.duration,
    frames: c.frames,
    offset: 0,
  }));
  // offsets depend on the header's length: size it with offsets of the final magnitude plus
  // slack (each offset can gain at most one digit), then pad the JSON to that length
  const place = (headerLen: number) => {
    let off = 12 + headerLen;
    for (let i = 0; i < records.length; i++) {
      records[i].offset = off;
      off += clips[i].frames * frameBytes;
    }
    return JSON.stringify({ version: 1, ...meta, records } satisfies ShardHeader);
  };
  const headerLen = Buffer.byteLength(place(0)) + 16 + records.length;
  const json = place(headerLen);
  const hb = Buffer.from(json.padEnd(headerLen + json.length - Buffer.byteLength(json)), 'utf8');
  if (hb.length !== headerLen)
    throw new ShardError(`shard header size mismatch (${hb.length} vs ${headerLen})`);
  const head = Buffer.alloc(12);
  head.write(SHARD_MAGIC, 0, 'latin1');
  head.writeUInt32LE(headerLen, 8);
  for (const c of clips)
    if (c.data.length !== c.frames * frameBytes)
      throw new ShardError(`${c.path}: ${c.data.length} bytes, expected ${c.frames}·${frameBytes}`);
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

/** Longest header accepted (a shard of 64 clips has a few KiB of header). */
const MAX_HEADER_BYTES = 64 << 20;

const isCount = (v: unknown, min: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

/**
 * Check a parsed header against the file it came from (cheap: no frame is read), so a
 * truncated or corrupt shard is refused when it is opened, naming the file and what is wrong,
 * instead of failing mid-epoch. `size` is the file's length in bytes.
 */
export function checkShardHeader(
  file: string,
  h: unknown,
  headerEnd: number,
  size: number,
): ShardHeader {
  const bad = (what: string) =>
    new ShardError(
      `shard ${file}: ${what} (corrupt shard: delete it and re-run eflip prepare with the same options to rebuild it)`,
    );
  if (!h || typeof h !== 'object' || Array.isArray(h)) throw bad('the header is not a JSON object');
  const x = h as Record<string, unknown>;
  if (x.version !== 1)
    throw new ShardError(
      `shard ${file}: unsupported shard version ${JSON.stringify(x.version)} (this eflip reads version 1)`,
    );
  for (const k of ['height', 'width', 'channels'] as const)
    if (!isCount(x[k], 1) || (x[k] as number) > 4096)
      throw bad(`header field '${k}' is ${JSON.stringify(x[k])}, expected a positive integer`);
  if (!Array.isArray(x.records)) throw bad(`header field 'records' is not a list`);
  if (x.skipped !== undefined && !Array.isArray(x.skipped))
    throw bad(`header field 'skipped' is not a list`);
  const frameBytes = (x.height as number) * (x.width as number) * (x.channels as number);
  (x.records as unknown[]).forEach((r, i) => {
    const rec = r as Record<string, unknown> | null;
    if (!rec || typeof rec !== 'object') throw bad(`record ${i} is not an object`);
    if (typeof rec.path !== 'string') throw bad(`record ${i} has no source path`);
    if (!isCount(rec.label, 0))
      throw bad(
        `record ${i} (${rec.path}) has label ${JSON.stringify(rec.label)}, expected an integer >= 0`,
      );
    if (!isCount(rec.frames, 1))
      throw bad(`record ${i} (${rec.path}) has ${JSON.stringify(rec.frames)} frames`);
    if (
      rec.duration !== null &&
      rec.duration !== undefined &&
      !(typeof rec.duration === 'number' && Number.isFinite(rec.duration))
    )
      throw bad(`record ${i} (${rec.path}) has duration ${JSON.stringify(rec.duration)}`);
    if (!isCount(rec.offset, headerEnd))
      throw bad(
        `record ${i} (${rec.path}) starts at byte ${JSON.stringify(rec.offset)}, inside the header`,
      );
    const end = (rec.offset as number) + (rec.frames as number) * frameBytes;
    if (end > size)
      throw bad(
        `record ${i} (${rec.path}) ends at byte ${end} but the file has ${size} bytes (truncated)`,
      );
  });
  return { skipped: [], ...x } as unknown as ShardHeader;
}

/** Read just the header (cheap), checked against the file's length. */
export function readShardHeader(file: string): ShardHeader {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString('latin1', 0, 8) !== SHARD_MAGIC)
      throw new ShardError(`shard ${file}: not an eflip shard (no ${SHARD_MAGIC} magic)`);
    const len = head.readUInt32LE(8);
    if (len > size - 12 || len > MAX_HEADER_BYTES)
      throw new ShardError(
        `shard ${file}: header of ${len} bytes but the file has ${size} bytes (truncated or corrupt shard: delete it and re-run eflip prepare with the same options to rebuild it)`,
      );
    const hb = Buffer.alloc(len);
    if (readSync(fd, hb, 0, len, 12) !== len)
      throw new ShardError(`shard ${file}: truncated shard header`);
    let h: unknown;
    try {
      h = JSON.parse(hb.toString('utf8'));
    } catch (e) {
      throw new ShardError(
        `shard ${file}: corrupt header (${(e as Error).message}); delete it and re-run eflip prepare with the same options to rebuild it`,
      );
    }
    return checkShardHeader(file, h, 12 + len, size);
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
    if (!r) throw new ShardError(`shard ${this.file}: no record ${i}`);
    const n = r.frames * this.frameBytes;
    const buf = into ? into.subarray(0, n) : new Uint8Array(n);
    let got: number;
    try {
      got = readSync(this.fd, buf, 0, n, r.offset);
    } catch (e) {
      throw new ShardError(
        `shard ${this.file}: cannot read record ${i} (${r.path}): ${(e as Error).message}`,
      );
    }
    if (got !== n)
      throw new ShardError(
        `shard ${this.file}: record ${i} (${r.path}) is truncated: read ${got} of ${n} bytes (the file changed or was cut after it was opened; re-run eflip prepare with the same options to rebuild it)`,
      );
    return buf;
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
