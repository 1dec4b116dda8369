// The one parser of ffmpeg's PGM (P5) / PPM (P6) image-stream output, used by every video
// reader (data/video.ts decodeVideo, data/video_batch.ts decodeVideos, data/video_stream.ts
// readFrames). Pipe chunks are copied straight into the current frame's buffer, allocated
// once per frame when its header arrives: no chunk list, no Buffer.concat, one copy per byte.
// A 1080p RGB frame is ~6 MB in ~95 pipe chunks of 64 KB; joining chunks per chunk or per
// frame was what made reading 1080p ~4× slower than ffmpeg's own decode.

/** One decoded frame: H·W·C uint8 (RGB or grey), HWC. */
export interface PnmFrame {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Longest header ffmpeg writes ("P6\n1920 1080\n255\n" is 17 bytes); more without a match is no PNM. */
const MAX_HEADER = 64;
/** Frames above this many pixels (16384²/4) are refused, not allocated. */
const MAX_PIXELS = 2 ** 26;
const HEADER = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/;

/** The stream is not a clean sequence of PGM/PPM images (a damaged decode). */
export class PnmStreamError extends Error {
  override name = 'PnmStreamError';
}

/** Incremental PGM/PPM stream parser: push pipe chunks, get the frames they complete. */
export class PnmParser {
  private readonly head = new Uint8Array(MAX_HEADER);
  private headLen = 0;
  private frame: PnmFrame | null = null;
  private filled = 0;
  /** bytes pushed so far */
  bytes = 0;

  /** Frames completed by this chunk (each in its own buffer); throws PnmStreamError on a bad header. */
  push(chunk: Uint8Array): PnmFrame[] {
    const out: PnmFrame[] = [];
    this.bytes += chunk.length;
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.frame) {
        // header bytes: copy a few into the header buffer until it parses
        const take = Math.min(chunk.length - pos, MAX_HEADER - this.headLen);
        this.head.set(chunk.subarray(pos, pos + take), this.headLen);
        const m = HEADER.exec(latin1(this.head, this.headLen + take));
        if (!m) {
          this.headLen += take;
          pos += take;
          if (this.headLen >= MAX_HEADER)
            throw new PnmStreamError('decoder produced an unreadable frame stream');
          continue;
        }
        const width = Number(m[2]),
          height = Number(m[3]),
          channels = m[1] === '6' ? 3 : 1;
        if (!(width > 0 && height > 0 && width * height <= MAX_PIXELS))
          throw new PnmStreamError(`decoder produced a ${width}×${height} frame`);
        const used = m[0].length - this.headLen; // header bytes that came from this chunk
        this.frame = {
          data: frameBuffer(width * height * channels),
          width,
          height,
          channels: channels as 1 | 3,
        };
        this.filled = 0;
        this.headLen = 0;
        pos += used;
        continue;
      }
      const f = this.frame;
      const take = Math.min(chunk.length - pos, f.data.length - this.filled);
      f.data.set(chunk.subarray(pos, pos + take), this.filled);
      this.filled += take;
      pos += take;
      if (this.filled === f.data.length) {
        out.push(f);
        this.frame = null;
      }
    }
    return out;
  }

  /** Bytes of an unfinished header or frame (non-zero at the end of a stream means it was cut). */
  get pending(): number {
    return this.frame ? this.filled || 1 : this.headLen;
  }
}

/** A plain Uint8Array over uninitialised memory (every byte is overwritten from the pipe). */
function frameBuffer(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

function latin1(b: Uint8Array, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Same-size frames stacked into one T·H·W·C array; null when sizes or channels differ (a damaged decode). */
export function stackPnmFrames(
  frames: PnmFrame[],
): { data: Uint8Array; frames: number; height: number; width: number; channels: 1 | 3 } | null {
  if (frames.length === 0)
    return { data: new Uint8Array(0), frames: 0, height: 0, width: 0, channels: 1 };
  const { width, height, channels } = frames[0];
  const n = width * height * channels;
  if (frames.some((f) => f.width !== width || f.height !== height || f.channels !== channels))
    return null;
  const data = new Uint8Array(frames.length * n);
  frames.forEach((f, i) => data.set(f.data, i * n));
  return { data, frames: frames.length, height, width, channels };
}

/** A whole PGM/PPM stream in one buffer → stacked frames; null when it is not a clean stream. */
export function parsePnmStream(
  buf: Uint8Array,
): { data: Uint8Array; frames: number; height: number; width: number; channels: 1 | 3 } | null {
  const p = new PnmParser();
  try {
    const frames = p.push(buf);
    return p.pending ? null : stackPnmFrames(frames);
  } catch (e) {
    if (e instanceof PnmStreamError) return null;
    throw e;
  }
}
