// Streaming video I/O for long footage: frames are read one at a time from an ffmpeg process
// (PPM image stream, so every frame describes its own size — rotated phone videos included)
// and written one at a time into an ffmpeg encoder, so memory stays bounded by a few frames
// whatever the video's length. Built on data/video.ts's ffmpeg conventions and errors.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { FFMPEG, VideoError, checkInputFile, classifyFailure, decodeInputArgs, decodeOutputArgs, readHead } from '../data/video.js';
import type { Frame } from './image.js';

export interface StreamOptions {
  /** resample to this frame rate */
  fps?: number;
  gray?: boolean;
}

/** The input's frame rate as ffmpeg reports it on stderr ("25 fps"), 0 if unknown. */
function fpsFromStderr(stderr: string): number {
  const m = /Stream #\d+:\d+.*Video:.*?([\d.]+)(k?) fps/.exec(stderr) ?? /Stream #\d+:\d+.*Video:.*?([\d.]+)(k?) tbr/.exec(stderr);
  return m ? Number(m[1]) * (m[2] ? 1000 : 1) : 0;
}

export interface FrameReader {
  /** frames in order; throws VideoError when ffmpeg fails */
  frames(): AsyncGenerator<Frame>;
  /** frame rate of the frames (known once the first frame has arrived) */
  fps(): number;
}

/** Read a video frame by frame (RGB or grey uint8 HWC). */
export async function readFrames(file: string, o: StreamOptions = {}): Promise<FrameReader> {
  await checkInputFile(file);
  let fps = o.fps ?? 0;
  const args = ['-hide_banner', '-nostdin', '-nostats', '-v', 'info', ...decodeInputArgs(file, {}), ...decodeOutputArgs(0, { fps: o.fps, gray: o.gray }, 'pipe:1')];
  async function* frames(): AsyncGenerator<Frame> {
    const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString('utf8'); if (stderr.length > 1 << 16) stderr = stderr.slice(-(1 << 15)); });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new VideoError('ffmpeg-missing', file, `cannot run '${FFMPEG}': not installed (apt-get install ffmpeg, or set EFLIP_FFMPEG)`) : e));
      child.on('close', (code) => resolve(code));
    });
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    try {
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const f = takeFrame(buf);
          if (!f) break;
          buf = buf.subarray(f.used);
          if (!fps) fps = fpsFromStderr(stderr);
          yield f.frame;
        }
      }
      done = true;
    } finally {
      if (!done) child.kill('SIGKILL');
    }
    const code = await exited;
    if (code !== 0) throw classifyFailure(file, stderr, await readHead(file));
    if (buf.length) throw new VideoError('corrupt', file, 'decoder produced an unreadable frame stream');
    if (!fps) fps = fpsFromStderr(stderr) || 25;
  }
  return { frames, fps: () => fps || 25 };
}

/** One PGM/PPM image off the front of `buf`, or null when it is not complete yet. */
function takeFrame(buf: Buffer): { frame: Frame; used: number } | null {
  let pos = 0;
  const tokens: string[] = [];
  while (tokens.length < 4) {
    while (pos < buf.length && (buf[pos] === 0x20 || buf[pos] === 0x0a || buf[pos] === 0x0d || buf[pos] === 0x09)) pos++;
    const s = pos;
    while (pos < buf.length && !(buf[pos] === 0x20 || buf[pos] === 0x0a || buf[pos] === 0x0d || buf[pos] === 0x09)) pos++;
    if (pos >= buf.length) return null;
    tokens.push(buf.toString('latin1', s, pos));
  }
  pos++; // the single whitespace after maxval
  const [magic, w, h] = [tokens[0], Number(tokens[1]), Number(tokens[2])];
  if ((magic !== 'P5' && magic !== 'P6') || !(w > 0 && h > 0) || tokens[3] !== '255') throw new VideoError('corrupt', '<stream>', `bad frame header '${tokens.join(' ')}'`);
  const channels = magic === 'P5' ? 1 : 3;
  const n = w * h * channels;
  if (buf.length < pos + n) return null;
  return { frame: { data: new Uint8Array(buf.subarray(pos, pos + n)), width: w, height: h, channels }, used: pos + n };
}

export interface FrameWriter {
  write(f: Frame): Promise<void>;
  /** finish the file (renamed into place only now) */
  close(): Promise<void>;
  /** give up: kill the encoder, remove the partial file */
  abort(): Promise<void>;
}

export interface WriterOptions {
  width: number;
  height: number;
  channels: 1 | 3;
  fps: number;
  /** extra ffmpeg video filters (e.g. drawtext), applied before even-size padding */
  filters?: string[];
  crf?: number;
}

/** H.264 mp4 writer fed frame by frame; written to a temporary name, renamed on close. */
export async function writeFrames(file: string, o: WriterOptions): Promise<FrameWriter> {
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}.mp4`;
  const vf = [...(o.filters ?? []), 'pad=ceil(iw/2)*2:ceil(ih/2)*2'].join(',');
  const child = spawn(FFMPEG, [
    '-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', o.channels === 3 ? 'rgb24' : 'gray', '-s', `${o.width}x${o.height}`, '-r', String(o.fps), '-i', 'pipe:0',
    '-vf', vf, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(o.crf ?? 20), '-pix_fmt', 'yuv420p',
    '-threads', '1', '-movflags', '+faststart', '-f', 'mp4', tmp,
  ], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
  let closed = false;
  let wake: (() => void) | null = null; // a write waiting for 'drain' when ffmpeg dies instead
  const exited = new Promise<number | null>((resolve) => {
    const end = (code: number | null) => { closed = true; wake?.(); resolve(code); };
    child.on('error', () => end(-1));
    child.on('close', end);
  });
  child.stdin!.on('error', () => { /* reported through the exit code */ });
  const fail = async (msg: string) => {
    await fsp.rm(tmp, { force: true });
    return new VideoError('corrupt', file, msg);
  };
  return {
    async write(f: Frame) {
      if (f.width !== o.width || f.height !== o.height || f.channels !== o.channels) throw await fail(`frame ${f.width}×${f.height}×${f.channels} does not match the writer's ${o.width}×${o.height}×${o.channels}`);
      if (closed) throw await fail(`ffmpeg exited early: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
      const ok = child.stdin!.write(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
      if (!ok) await new Promise<void>((resolve) => { wake = resolve; child.stdin!.once('drain', () => { wake = null; resolve(); }); });
    },
    async close() {
      child.stdin!.end();
      const code = await exited;
      if (code !== 0) throw await fail(`ffmpeg could not encode: ${stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${code}`}`);
      await fsp.rename(tmp, file);
    },
    async abort() {
      child.kill('SIGKILL');
      await exited;
      await fsp.rm(tmp, { force: true });
    },
  };
}
