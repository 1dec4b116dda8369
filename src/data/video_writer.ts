// The one H.264 (x264) mp4 writer: frames go one at a time into an ffmpeg encoder's stdin, so
// memory stays bounded by a few frames whatever the video's length. encodeVideo (a clip held
// in memory: synthetic corpus, ROI clips, tests) and the streaming writers (eflip roi
// --annotate, predict --annotate) both write through writeFrames. The file is written to a
// temporary name (io/atomic.ts's rule) and renamed into place on close, so a crash or an
// encoder failure never leaves a half file under the user's name.
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { removeStaleTemps, tempPathFor, writeTarget } from '../io/atomic.js';
import { FFMPEG, VideoError, ffmpegPath, spawnTool, toolError } from './video.js';
import type { PnmFrame } from './video_pnm.js';
import { makeDirs } from '../io/make_dirs.js';

export interface WriterOptions {
  width: number;
  height: number;
  channels: 1 | 3;
  fps: number;
  /** extra ffmpeg video filters (e.g. drawtext), applied before even-size padding */
  filters?: string[];
  /** x264 constant rate factor, 0-51 (default 20) */
  crf?: number;
  /** x264 preset (default 'veryfast') */
  preset?: string;
  /** encoder threads (default 1) */
  threads?: number;
}

export interface EncodeOptions extends Omit<WriterOptions, 'filters'> {
  frames: number;
}

export interface FrameWriter {
  write(f: PnmFrame): Promise<void>;
  /** finish the file (renamed into place only now) */
  close(): Promise<void>;
  /** give up: kill the encoder, remove the partial file */
  abort(): Promise<void>;
}

/** ffmpeg arguments: raw frames on stdin → H.264 yuv420p mp4 (+faststart, odd sizes padded to even). */
export function x264Args(o: WriterOptions, target: string): string[] {
  const vf = [...(o.filters ?? []), 'pad=ceil(iw/2)*2:ceil(ih/2)*2'].join(',');
  return [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    o.channels === 3 ? 'rgb24' : 'gray',
    '-s',
    `${o.width}x${o.height}`,
    '-r',
    String(o.fps),
    '-i',
    'pipe:0',
    '-vf',
    vf,
    '-c:v',
    'libx264',
    '-preset',
    o.preset ?? 'veryfast',
    '-crf',
    String(o.crf ?? 20),
    '-pix_fmt',
    'yuv420p',
    '-threads',
    String(o.threads ?? 1),
    '-movflags',
    '+faststart',
    '-f',
    'mp4', // the temporary name has no .mp4 ending
    ffmpegPath(target),
  ];
}

function checkGeometry(file: string, o: WriterOptions): void {
  const ok =
    Number.isInteger(o.width) &&
    Number.isInteger(o.height) &&
    o.width > 0 &&
    o.height > 0 &&
    o.fps > 0 &&
    Number.isFinite(o.fps) &&
    (o.channels === 1 || o.channels === 3);
  if (!ok)
    throw new VideoError(
      'bad-args',
      file,
      `bad encode geometry ${o.height}x${o.width}x${o.channels} fps=${o.fps}`,
    );
}

/** H.264 mp4 writer fed frame by frame; written to a temporary name, renamed on close. */
export async function writeFrames(file: string, o: WriterOptions): Promise<FrameWriter> {
  checkGeometry(file, o);
  // through a symlink to its file; never over a device or FIFO (io/atomic.ts)
  const target = writeTarget(file);
  makeDirs(path.dirname(target));
  // the one temp-name rule (io/atomic.ts); temps of writers killed mid-file (kill -9) go first
  removeStaleTemps(path.dirname(target));
  const tmp = tempPathFor(target);
  const child = spawnTool(FFMPEG, x264Args(o, tmp), ['pipe', 'ignore', 'pipe']);
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 1 << 16) stderr += b.toString('utf8');
  });
  let closed = false;
  let spawnError: NodeJS.ErrnoException | null = null;
  let wake: (() => void) | null = null; // a write waiting for 'drain' when ffmpeg dies instead
  const exited = new Promise<number | null>((resolve) => {
    const end = (code: number | null) => {
      closed = true;
      wake?.();
      resolve(code);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
      end(-1);
    });
    child.on('close', end);
  });
  child.stdin!.on('error', () => {
    /* reported through the exit code */
  });
  const why = () => stderr.trim().split('\n').slice(-2).join(' | ');
  const fail = async (msg: string) => {
    await fsp.rm(tmp, { force: true });
    // a tool that never started, or was cancelled (withToolSignal), says so; else the encoder's words
    return spawnError ? toolError(spawnError, FFMPEG, file) : new VideoError('corrupt', file, msg);
  };
  return {
    async write(f: PnmFrame) {
      if (
        f.width !== o.width ||
        f.height !== o.height ||
        f.channels !== o.channels ||
        f.data.length !== o.width * o.height * o.channels
      ) {
        child.kill('SIGKILL');
        await exited;
        throw await fail(
          `frame ${f.width}×${f.height}×${f.channels} does not match the writer's ${o.width}×${o.height}×${o.channels}`,
        );
      }
      if (closed) throw await fail(`ffmpeg exited early: ${why()}`);
      const ok = child.stdin!.write(
        Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength),
      );
      if (!ok)
        await new Promise<void>((resolve) => {
          wake = resolve;
          child.stdin!.once('drain', () => {
            wake = null;
            resolve();
          });
        });
    },
    async close() {
      child.stdin!.end();
      const code = await exited;
      if (code !== 0) throw await fail(`ffmpeg could not encode: ${why() || `exit ${code}`}`);
      await fsp.rename(tmp, target);
    },
    async abort() {
      child.kill('SIGKILL');
      await exited;
      await fsp.rm(tmp, { force: true });
    },
  };
}

/** Encode uint8 frames held in memory (T·H·W·C) to H.264 mp4 through writeFrames. */
export async function encodeVideo(file: string, data: Uint8Array, o: EncodeOptions): Promise<void> {
  const { frames, height, width, channels } = o;
  if (!(Number.isInteger(frames) && frames > 0))
    throw new VideoError('bad-args', file, `bad encode geometry frames=${frames}`);
  const n = height * width * channels;
  if (data.length !== frames * n) {
    throw new VideoError(
      'bad-args',
      file,
      `data has ${data.length} bytes, expected ${frames}·${height}·${width}·${channels} = ${frames * n}`,
    );
  }
  const w = await writeFrames(file, o);
  try {
    for (let t = 0; t < frames; t++)
      await w.write({ data: data.subarray(t * n, (t + 1) * n), width, height, channels });
  } catch (e) {
    await w.abort();
    throw e;
  }
  await w.close();
}

/**
 * rgb24 frames held in memory (T·H·W·3) → an uncompressed YUV4MPEG2 file (.y4m, yuv420p): the
 * file Chromium's fake camera plays (--use-file-for-fake-video-capture). Test and bench inputs.
 */
export function writeY4m(
  file: string,
  data: Uint8Array,
  o: { width: number; height: number; fps: number },
): void {
  checkGeometry(file, { ...o, channels: 3 });
  if (data.length === 0 || data.length % (o.width * o.height * 3) !== 0)
    throw new VideoError('bad-args', file, `${data.length} bytes are not whole rgb24 frames`);
  const r = spawnSync(
    FFMPEG,
    [
      ...['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24'],
      ...['-s', `${o.width}x${o.height}`, '-r', String(o.fps), '-i', 'pipe:0'],
      ...['-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', ffmpegPath(file)],
    ],
    { input: data, maxBuffer: 1 << 20 },
  );
  if (r.status !== 0)
    throw new VideoError(
      r.error ? 'ffmpeg-missing' : 'bad-args',
      file,
      `ffmpeg could not write the .y4m: ${String(r.error?.message ?? r.stderr).trim()}`,
    );
}
