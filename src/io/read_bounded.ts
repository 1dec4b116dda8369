// Reading a small input file that sits among the user's data (a transcript, a landmarks file),
// bounded: only a regular file is read — opening never waits on a FIFO (O_NONBLOCK) and a
// device (a symlink to /dev/zero) is refused, not read until memory runs out — and never more
// than the caller's limit, which it derives from what the file can hold.
import { constants, promises as fsp } from 'node:fs';
import { errnoReason, specialFileKind } from './atomic.js';

/** Why a file was not read: `reason` is one phrase ("is a FIFO (named pipe), not a regular file"). */
export class FileReadError extends Error {
  override name = 'FileReadError';
  constructor(
    readonly path: string,
    readonly code: 'missing' | 'not-regular' | 'too-large' | 'unreadable',
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** A byte count for messages: "400.0 MiB", "12.5 KiB", "812 bytes". */
export function byteSize(n: number): string {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * The bytes of regular file `path`, at most `maxBytes`. With `head`, a longer file gives its
 * first `maxBytes`; otherwise it is refused ('too-large', the reason naming its size, the
 * limit and `what` the limit is for). Throws FileReadError for a missing file, a directory,
 * device, FIFO or socket, and a read that fails.
 */
export async function readRegularFile(
  path: string,
  maxBytes: number,
  o: { head?: boolean; what?: string } = {},
): Promise<Buffer> {
  const tooLarge = (size: string) =>
    new FileReadError(
      path,
      'too-large',
      `is ${size}, over the ${byteSize(maxBytes)} limit${o.what ? ` for ${o.what}` : ''}`,
    );
  let fh;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileReadError(path, 'missing', 'not found');
    throw new FileReadError(path, 'unreadable', `cannot be read: ${errnoReason(e)}`);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory())
      throw new FileReadError(path, 'not-regular', 'is a directory, not a file');
    if (!st.isFile())
      throw new FileReadError(
        path,
        'not-regular',
        `is ${specialFileKind(st) ?? 'a special file'}, not a regular file`,
      );
    if (!o.head && st.size > maxBytes) throw tooLarge(byteSize(st.size));
    // read to the end, at most one byte past the limit: a file that grew since fstat is
    // read whole or caught, never cut silently
    let buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) break;
        const more = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(more, 0, 0, got);
        buf = more;
      }
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > maxBytes) {
      if (o.head) return buf.subarray(0, maxBytes);
      throw tooLarge(`more than ${byteSize(maxBytes)}`);
    }
    return buf.subarray(0, got);
  } catch (e) {
    if (e instanceof FileReadError) throw e;
    throw new FileReadError(path, 'unreadable', `cannot be read: ${errnoReason(e)}`);
  } finally {
    await fh.close();
  }
}
