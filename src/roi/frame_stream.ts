// Streaming video output for long footage: frames are written one at a time into an ffmpeg
// encoder, so memory stays bounded by a few frames whatever the video's length. (Frames are
// read by the one frame reader, data/video_stream.ts.) Built on data/video.ts's conventions.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { FFMPEG, VideoError, ffmpegPath } from '../data/video.js';
import type { Frame } from './image.js';
import { tempPathFor } from '../io/atomic.js';

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
  const tmp = tempPathFor(file); // the one temp-name rule (io/atomic.ts); `-f mp4` names the format
  const vf = [...(o.filters ?? []), 'pad=ceil(iw/2)*2:ceil(ih/2)*2'].join(',');
  const child = spawn(
    FFMPEG,
    [
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
      'veryfast',
      '-crf',
      String(o.crf ?? 20),
      '-pix_fmt',
      'yuv420p',
      '-threads',
      '1',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      ffmpegPath(tmp),
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  let closed = false;
  let wake: (() => void) | null = null; // a write waiting for 'drain' when ffmpeg dies instead
  const exited = new Promise<number | null>((resolve) => {
    const end = (code: number | null) => {
      closed = true;
      wake?.();
      resolve(code);
    };
    child.on('error', () => end(-1));
    child.on('close', end);
  });
  child.stdin!.on('error', () => {
    /* reported through the exit code */
  });
  const fail = async (msg: string) => {
    await fsp.rm(tmp, { force: true });
    return new VideoError('corrupt', file, msg);
  };
  return {
    async write(f: Frame) {
      if (f.width !== o.width || f.height !== o.height || f.channels !== o.channels)
        throw await fail(
          `frame ${f.width}×${f.height}×${f.channels} does not match the writer's ${o.width}×${o.height}×${o.channels}`,
        );
      if (closed)
        throw await fail(`ffmpeg exited early: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
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
      if (code !== 0)
        throw await fail(
          `ffmpeg could not encode: ${stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${code}`}`,
        );
      await fsp.rename(tmp, file);
    },
    async abort() {
      child.kill('SIGKILL');
      await exited;
      await fsp.rm(tmp, { force: true });
    },
  };
}
