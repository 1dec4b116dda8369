// Frames of a video file, decoded by ffmpeg one at a time (constant memory, any length): grey
// (or RGB for colour models: `channels` 3/4), resampled to 25 fps, large frames scaled by ffmpeg so the short side is 256 (the LRW frame
// scale), then the shared crop + normalise. Used by predict (collects) and stream (iterates).
import { spawn } from 'node:child_process';
import { checkInputFile, classifyFailure, FFMPEG, probeVideo, readHead, VideoError } from '../data/video.js';
import { cropForModel, inputPlanes, MODEL_FPS, normalise } from './preprocess.js';
import { InferenceInputError, type Clip, type Preprocessing } from './types.js';

const LRW_SIDE = 256;

/** ffmpeg filter chain for the model: fps, optional short-side-256 scale, grey (or RGB for `channels` 3/4). */
export function filterChain(width: number, height: number, pre: Preprocessing, channels = 1): string {
  const f = [`fps=${MODEL_FPS}`];
  const ready = width === height && width < 2 * pre.size; // a crop or mouth ROI: no scaling
  if (!ready) f.push(`scale='if(lt(iw,ih),${LRW_SIDE},-2)':'if(lt(iw,ih),-2,${LRW_SIDE})':flags=bilinear`);
  f.push(inputPlanes(channels).image === 3 ? 'format=rgb24' : 'format=gray');
  return f.join(',');
}

/** Incremental PGM (P5, grey) / PPM (P6, RGB) stream splitter. */
class PnmSplitter {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): { data: Uint8Array; width: number; height: number; channels: 1 | 3 }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { data: Uint8Array; width: number; height: number; channels: 1 | 3 }[] = [];
    for (;;) {
      const m = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/.exec(this.buf.toString('latin1', 0, Math.min(this.buf.length, 40)));
      if (!m) {
        if (this.buf.length >= 40) throw new Error('decoder produced an unreadable frame stream');
        return out;
      }
      const channels = m[1] === '6' ? 3 : 1;
      const w = Number(m[2]), h = Number(m[3]);
      const start = m[0].length;
      const n = w * h * channels;
      if (this.buf.length < start + n) return out;
      out.push({ data: new Uint8Array(this.buf.subarray(start, start + n)), width: w, height: h, channels });
      this.buf = this.buf.subarray(start + n);
    }
  }
  get leftover(): number {
    return this.buf.length;
  }
}

export interface ReadOptions {
  maxFrames?: number;
  /** the network's input channels (LipReader.channels): 1 grey (default), 3 RGB; 2/4 add a word-boundary plane of 1s */
  channels?: number;
}

/** Model-ready frames (C·S·S normalised, channel-major) of a video, one at a time. */
export async function* readModelFrames(file: string, pre: Preprocessing, opts: ReadOptions = {}): AsyncGenerator<Float32Array> {
  const channels = opts.channels ?? 1;
  const rgb = inputPlanes(channels).image === 3;
  await checkInputFile(file);
  const info = await probeVideo(file);
  const args = ['-hide_banner', '-nostdin', '-nostats', '-v', 'error', '-threads', '1', '-i', file, '-map', '0:v:0', '-vf', filterChain(info.width, info.height, pre, channels)];
  if (opts.maxFrames) args.push('-frames:v', String(opts.maxFrames));
  args.push('-f', 'image2pipe', '-c:v', rgb ? 'ppm' : 'pgm', 'pipe:1');
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new VideoError('ffmpeg-missing', file, `cannot run '${FFMPEG}': ${e.message}`)));
    child.on('close', (code) => resolve(code));
  });
  const split = new PnmSplitter();
  let n = 0;
  try {
    for await (const chunk of child.stdout!) {
      let frames;
      try {
        frames = split.push(chunk as Buffer);
      } catch (e) {
        throw new VideoError('corrupt', file, (e as Error).message);
      }
      for (const f of frames) {
        n++;
        yield normalise(cropForModel({ data: f.data, frames: 1, height: f.height, width: f.width, channels: f.channels }, pre), pre, undefined, channels).data;
      }
    }
    const code = await exited;
    if (code !== 0 && n === 0) throw classifyFailure(file, stderr, await readHead(file));
    if (n === 0) throw new InferenceInputError(`${file}: the video has no frames`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** A whole video as one model-ready clip (channels, T, S, S). */
export async function loadClip(file: string, pre: Preprocessing, opts: ReadOptions = {}): Promise<Clip> {
  const C = opts.channels ?? 1;
  const frames: Float32Array[] = [];
  for await (const f of readModelFrames(file, pre, opts)) frames.push(f);
  const T = frames.length;
  const per = frames[0].length / C;
  const data = new Float32Array(T * C * per);
  // frame-major C·S·S pieces → channel planes (C, T, S, S)
  frames.forEach((f, t) => { for (let c = 0; c < C; c++) data.set(f.subarray(c * per, (c + 1) * per), (c * T + t) * per); });
  return { data, frames: T, channels: C, size: pre.size, fps: MODEL_FPS };
}
