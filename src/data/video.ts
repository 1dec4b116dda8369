// Video I/O through the Debian ffmpeg/ffprobe binaries (child processes, frames over a pipe).
//
// Why ffmpeg processes and not libav in the addon: measured on this machine, an ffmpeg
// process costs ~50-60 ms of start-up but decodes a 29×256×256 LRW clip in a few ms; the
// start-up is amortised by decoding many files in one process (see decodeVideos in
// ./video_batch.ts), which reaches well over 30 clips/s per core. Works with mp4/avi/webm/mov,
// any fps/size/length. Frames come out as uint8 T×H×W×C (HWC per frame, RGB or grey).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { type PnmFrame, PnmParser, PnmStreamError, stackPnmFrames } from './video_pnm.js';
import { printable } from '../io/printable.js';

export type VideoErrorKind =
  | 'missing'
  | 'empty'
  | 'corrupt'
  | 'truncated'
  | 'no-video'
  | 'ffmpeg-missing'
  | 'bad-args'
  | 'too-long'
  | 'too-large'
  | 'too-small'
  | 'cancelled'
  | 'killed';

/** A video could not be read or written; `kind` says why, `file` names it (its message starts
 *  with the file's name, control characters escaped: see io/printable.ts), `reason` is the rest. */
export class VideoError extends Error {
  override name = 'VideoError';
  constructor(
    readonly kind: VideoErrorKind,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${printable(file)}: ${reason}`);
  }
}

export interface VideoInfo {
  /** frame width as decoded: after the display rotation (ffmpeg autorotates phone videos on decode) */
  width: number;
  /** frame height as decoded (after rotation) */
  height: number;
  /** display rotation of the stream in degrees (0, 90, 180, 270; as ffmpeg's `rotate` tag states it); already applied to width/height */
  rotation: number;
  /** frames per second of the video stream (average rate) */
  fps: number;
  /** frame count: the container's count when stored, else round(duration·fps) */
  frames: number;
  /** true when `frames` is the container's stored count (mp4), false when estimated from a duration (mkv, raw streams) */
  framesStored: boolean;
  /** seconds */
  duration: number;
  codec: string;
  format: string;
  /** the stream's index in the file (the first video stream that is not cover art) */
  stream: number;
  /** true when `stream` is the file's first video stream, the one ffmpeg's `-map 0:v:0` picks */
  firstVideoStream: boolean;
}

export interface DecodeOptions {
  /** single-channel luma (BT.601 full range) instead of RGB */
  gray?: boolean;
  /** resample to this frame rate (e.g. 25), dropping/duplicating frames like ffmpeg's fps filter */
  fps?: number;
  /** stop after this many (output) frames */
  maxFrames?: number;
  /** fail when the stream is damaged (decode errors, or fewer frames than the container promises) */
  strict?: boolean;
  /** ffmpeg decoder threads (default 1: small clips decode fastest single-threaded) */
  threads?: number;
  /** decode this stream of the file (VideoInfo.stream; default: the first video stream) */
  stream?: number;
  /** extra ffmpeg video filters, applied after the fps resampling (e.g. the model's scale) */
  filters?: string[];
  /** decodeVideo, decodeVideos: refuse when the decoded frames would exceed this many bytes in
   *  memory (default MAX_DECODE_BYTES; decodeVideos: all files of one ffmpeg process together) */
  maxBytes?: number;
}

/** Memory bound of a whole-video decode (decodeVideo, decodeVideos: train, eval, prepare, the
 *  mp4 dataset, bench data): larger decodes are stopped when they reach it and refused. */
export const MAX_DECODE_BYTES = 256 * 2 ** 20;

/** The refusal of a decode that reached `maxBytes` (kind 'too-large'). */
export function tooLargeError(file: string, maxBytes: number): VideoError {
  return new VideoError(
    'too-large',
    file,
    `decoded frames exceed ${Math.round(maxBytes / 2 ** 20)} MiB in memory; use a shorter or smaller video (eflip stream / eflip roi read long videos frame by frame)`,
  );
}

/** A decoder killed by a signal (the OOM killer, an admin): no verdict on the file, which a
 *  later run may decode (kind 'killed'; prepare fails the shard instead of skipping the clip). */
export function killedError(file: string, signal: string): VideoError {
  return new VideoError(
    'killed',
    file,
    `the decoder (ffmpeg) was killed by ${signal} (out of memory?) before it finished: no verdict on the file`,
  );
}

/**
 * Frames whose long side exceeds this are scaled down (aspect kept) by the streaming reader
 * (data/video_stream.ts): more pixels than face tracking or a 96-pixel mouth ROI can use,
 * and an 8000×8000 frame would be 192 MB of RGB.
 */
export const MAX_FRAME_SIDE = 1920;

/** The streaming reader refuses smaller frames: too few pixels to hold a face or lips. */
export const MIN_FRAME_SIDE = 16;

export interface DecodedVideo {
  /** T·H·W·C uint8, frame-major, HWC inside a frame */
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
  channels: 1 | 3;
  /** frame rate of `data` (the resampled one when opts.fps was given) */
  fps: number;
  /** frames the container promises at this rate (0 when unknown): more than `frames` means a truncated or damaged video */
  expectedFrames?: number;
}

export const FFMPEG = process.env.EFLIP_FFMPEG ?? 'ffmpeg';
export const FFPROBE = process.env.EFLIP_FFPROBE ?? 'ffprobe';

// Cancellation: work run under withToolSignal(signal, fn) has every ffmpeg/ffprobe it starts —
// directly or through any reader below — killed (SIGKILL) when the signal aborts; the reader then
// fails with a VideoError of kind 'cancelled'. `eflip serve` stops a prediction past
// --job-timeout this way.
const toolSignal = new AsyncLocalStorage<AbortSignal>();

/** Run `fn` so that the video tools it starts are killed when `signal` aborts. */
export function withToolSignal<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  return toolSignal.run(signal, fn);
}

/** Start ffmpeg/ffprobe: the one place the video tools are spawned (see withToolSignal). */
export function spawnTool(bin: string, args: string[], stdio: StdioOptions): ChildProcess {
  const signal = toolSignal.getStore();
  return spawn(bin, args, signal ? { stdio, signal, killSignal: 'SIGKILL' } : { stdio });
}

/** A video tool's 'error' event as the error its reader throws. */
export function toolError(e: NodeJS.ErrnoException, bin: string, file: string): Error {
  if (e.code === 'ENOENT')
    return new VideoError(
      'ffmpeg-missing',
      file,
      `cannot run '${bin}': not installed (apt-get install ffmpeg, or set EFLIP_FFMPEG/EFLIP_FFPROBE)`,
    );
  if (e.name === 'AbortError')
    return new VideoError('cancelled', file, 'stopped: the job was cancelled');
  return new VideoError('corrupt', file, `${bin} failed to start: ${e.message}`);
}

/** A started tool's exit code, once its streams are closed; a start failure rejects at once,
 *  a cancellation (toolError) once the killed process is gone. */
export function toolExit(child: ChildProcess, bin: string, file: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    let failed: Error | undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      failed = toolError(e, bin, file);
      if (e.name !== 'AbortError') reject(failed);
    });
    child.on('close', (code) => (failed ? reject(failed) : resolve(code)));
  });
}

interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a binary, collect stdout (binary) and stderr (text); stdin optional. */
export function runTool(
  bin: string,
  args: string[],
  file: string,
  stdin?: Uint8Array,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTool(bin, args, [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe']);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    toolExit(child, bin, file).then(
      (code) =>
        resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
      reject,
    );
    if (stdin) {
      child.stdin!.on('error', () => {
        /* reported through the exit code */
      });
      child.stdin!.end(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength));
    }
  });
}

/** Throws 'missing'/'empty' for files that cannot be a video at all. */
export async function checkInputFile(file: string): Promise<number> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch {
    throw new VideoError('missing', file, 'video file not found');
  }
  if (st.isDirectory()) throw new VideoError('missing', file, 'is a directory, not a video file');
  if (!st.isFile())
    throw new VideoError(
      'missing',
      file,
      'not a regular file (a device, FIFO or socket); give a video file',
    );
  if (st.size === 0) throw new VideoError('empty', file, 'video file is empty (0 bytes)');
  return st.size;
}

/** Turn ffmpeg/ffprobe stderr into a VideoError with the most telling line. */
export function classifyFailure(file: string, stderr: string, head?: Uint8Array): VideoError {
  stderr = stderr
    .split(ffmpegPath(file))
    .join(file)
    .replace(/\[[\w,]+ @ 0x[0-9a-f]+\] /g, ''); // the user's name, no ffmpeg context tags
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const telling = lines.filter((l) =>
    /error|invalid|not found|no such|moov|partial|matches no streams|does not contain/i.test(l),
  );
  const msg =
    (telling.length ? telling.slice(-2) : lines.slice(-2)).join(' | ') ||
    'ffmpeg failed without a message';
  if (/matches no streams|does not contain any stream|no video stream/i.test(stderr))
    return new VideoError('no-video', file, `no video stream (${msg})`);
  if (head && !looksLikeVideoContainer(head))
    return new VideoError('corrupt', file, `not a video file (${msg})`);
  if (/moov atom not found|partial file|truncat|end of file/i.test(stderr))
    return new VideoError('truncated', file, `truncated or incomplete video (${msg})`);
  return new VideoError('corrupt', file, `not a readable video (${msg})`);
}

/** Magic numbers of the containers we expect: ISO-BMFF (mp4/mov), RIFF/AVI, Matroska/WebM. */
export function looksLikeVideoContainer(head: Uint8Array): boolean {
  const ascii = (a: number, b: number) => String.fromCharCode(...head.subarray(a, b));
  if (head.length >= 8 && ['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip'].includes(ascii(4, 8)))
    return true;
  if (head.length >= 12 && ascii(0, 4) === 'RIFF') return true;
  if (
    head.length >= 4 &&
    head[0] === 0x1a &&
    head[1] === 0x45 &&
    head[2] === 0xdf &&
    head[3] === 0xa3
  )
    return true;
  return false;
}

/** First bytes of a file (for container sniffing in error reports). */
export async function readHead(file: string, n = 16): Promise<Uint8Array> {
  const fh = await fsp.open(file, 'r');
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await fh.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * The name ffmpeg/ffprobe get for a local file (input or output): always through the file: protocol, so a path
 * that starts with a dash or holds a colon ("a:b.mp4", "http:x") is never read as an option,
 * a protocol or an image-sequence pattern.
 */
export function ffmpegPath(file: string): string {
  return `file:${file}`;
}

/** Demuxers of still images: ffmpeg reads a png/jpg as a 1-frame "video", eflip does not. */
export function isImageFormat(format: string): boolean {
  return /(^|,)(image2|[a-z0-9]+_pipe)(,|$)/.test(format);
}

/** Display rotation (0/90/180/270, as the `rotate` tag states it) from ffprobe's display matrix or the legacy tag. */
function rotationOf(stream: any): number {
  const sd = (stream.side_data_list ?? []).find((d: any) => d && d.rotation !== undefined);
  const deg = sd ? Number(sd.rotation) : Number(stream.tags?.rotate ?? 0); // ffmpeg writes rotate=90 as a display matrix of 90
  if (!Number.isFinite(deg)) return 0;
  return (((Math.round(deg / 90) * 90) % 360) + 360) % 360;
}

function parseRate(r: string | undefined): number {
  if (!r) return 0;
  const [a, b] = r.split('/').map(Number);
  const v = b ? a / b : a;
  return Number.isFinite(v) ? v : 0;
}

/**
 * Stream facts from ffprobe (one process). Refuses what is no video: no video stream (text,
 * audio only — cover art does not count), a still image (png/jpg), a 0×0 stream.
 */
export async function probeVideo(file: string): Promise<VideoInfo> {
  await checkInputFile(file);
  const r = await runTool(
    FFPROBE,
    [
      '-v',
      'error',
      '-select_streams',
      'v',
      '-show_entries',
      'stream=index,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration,codec_name:stream_side_data=rotation:stream_tags=rotate:stream_disposition=attached_pic:format=duration,format_name',
      '-of',
      'json',
      ffmpegPath(file),
    ],
    file,
  );
  if (r.code !== 0) throw classifyFailure(file, r.stderr, await readHead(file));
  let j: any;
  try {
    j = JSON.parse(r.stdout.toString('utf8'));
  } catch {
    throw new VideoError('corrupt', file, 'ffprobe returned unreadable output');
  }
  const format = String(j.format?.format_name ?? '');
  const s = (j.streams ?? []).find((x: any) => !x.disposition?.attached_pic);
  if (!s)
    throw new VideoError(
      'no-video',
      file,
      `no video stream${j.streams?.length ? ' (only cover art)' : ''}${format ? ` in this ${format.split(',')[0]} file` : ''}`,
    );
  if (isImageFormat(format))
    throw new VideoError(
      'no-video',
      file,
      `a still image (${s.codec_name ?? format}), not a video`,
    );
  if (!(s.width > 0 && s.height > 0))
    throw new VideoError(
      'corrupt',
      file,
      `video stream has no frame size (${s.width ?? '?'}×${s.height ?? '?'})`,
    );
  const fps = parseRate(s.avg_frame_rate) || parseRate(s.r_frame_rate);
  const duration = Number(s.duration ?? j.format?.duration ?? 0) || 0;
  const nb = Number(s.nb_frames);
  const rotation = rotationOf(s);
  const turned = rotation === 90 || rotation === 270;
  return {
    width: turned ? s.height : s.width,
    height: turned ? s.width : s.height,
    rotation,
    fps,
    frames: Number.isInteger(nb) && nb > 0 ? nb : Math.round(duration * fps),
    framesStored: Number.isInteger(nb) && nb > 0,
    duration,
    codec: s.codec_name ?? '',
    format,
    stream: Number.isInteger(s.index) ? s.index : 0,
    firstVideoStream: s === j.streams[0],
  };
}

/** Video packets in the file, counted by demuxing (no decoding: fast even for long videos); 0 when unknown. */
export async function countPackets(file: string): Promise<number> {
  const r = await runTool(
    FFPROBE,
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-count_packets',
      '-show_entries',
      'stream=nb_read_packets',
      '-of',
      'csv=p=0',
      ffmpegPath(file),
    ],
    file,
  );
  const n = Number(r.stdout.toString('utf8').trim());
  return r.code === 0 && Number.isInteger(n) ? n : 0;
}

/** Seconds of video the probe promises: its frame count over its (average) rate, or its
 *  duration where that is less — in a variable-frame-rate file the average rate can be far
 *  from count ÷ duration (a 6 s phone clip with one long pause: 154 frames at 75/41 fps would
 *  "last" 84 s) — or the duration alone when the rate or count is unknown. Decoding enforces
 *  --max-seconds again on the frames themselves. */
export function probedSeconds(info: VideoInfo): number {
  const byCount = info.fps > 0 && info.frames > 0 ? info.frames / info.fps : 0;
  if (byCount > 0 && info.duration > 0) return Math.min(byCount, info.duration);
  return byCount || info.duration;
}

/** Frames a decode at `fps` (default: the native rate) should give, capped by maxFrames; 0 when unknown. */
export function expectedFrames(info: VideoInfo, fps?: number, maxFrames?: number): number {
  let n = fps && info.fps > 0 ? Math.round(probedSeconds(info) * fps) : info.frames;
  if (maxFrames !== undefined) n = Math.min(n, maxFrames);
  return Math.max(0, n || 0);
}

/** The one rule for "fewer frames decoded than promised": more than 2 missing (fps resampling may round). */
export function framesMissing(decoded: number, expected: number): boolean {
  return expected > 0 && decoded < expected - 2;
}

/** One-line warning for a decode that fell short of the container's promise. */
export function incompleteWarning(file: string, decoded: number, expected: number): string {
  return `warning: ${printable(file)}: only ${decoded} of ${expected} frames decode (truncated or damaged video); using the ${decoded}`;
}

/** ffmpeg arguments that decode input `index` as a PGM/PPM image stream (self-describing frames). */
export function decodeOutputArgs(index: number, opts: DecodeOptions, target: string): string[] {
  const vf: string[] = [];
  if (opts.fps) vf.push(`fps=${opts.fps}`);
  vf.push(...(opts.filters ?? []));
  const a = ['-map', opts.stream !== undefined ? `${index}:${opts.stream}` : `${index}:v:0`];
  if (vf.length) a.push('-vf', vf.join(','));
  if (opts.maxFrames !== undefined) a.push('-frames:v', String(opts.maxFrames));
  if (opts.maxBytes !== undefined) a.push('-fs', String(opts.maxBytes)); // ffmpeg stops writing past this
  a.push(
    '-f',
    'image2pipe',
    '-c:v',
    opts.gray ? 'pgm' : 'ppm',
    '-pix_fmt',
    opts.gray ? 'gray' : 'rgb24',
    target,
  );
  return a;
}

/** Input-side ffmpeg arguments for one file. */
export function decodeInputArgs(file: string, opts: DecodeOptions): string[] {
  const a = ['-threads', String(opts.threads ?? 1)];
  if (opts.strict) a.push('-err_detect', 'explode');
  a.push('-autorotate', '1', '-i', ffmpegPath(file)); // frames upright, as probeVideo's width/height say
  return a;
}

/** One PGM/PPM output of a decoder process: its frames, bytes, and whether it parsed cleanly. */
export interface PnmOutput {
  frames: PnmFrame[];
  bytes: number;
  /** false when the stream was not a clean sequence of images, or was cut inside a frame */
  clean: boolean;
}

/**
 * Run an ffmpeg decode whose outputs are PGM/PPM image streams on fds `fds` (pipe:1, or 3.. for
 * a batch), parsed as the chunks arrive (video_pnm.ts: one copy per byte, no concatenation).
 * Once the outputs together reach `budget` bytes the process is killed and `overBudget` set
 * (its `signal` is then ours); otherwise `signal` names what killed it, if anything did.
 */
export function runPnmDecoder(
  args: string[],
  file: string,
  fds: number[],
  budget = Infinity,
): Promise<{
  code: number | null;
  signal: NodeJS.Signals | null;
  overBudget: boolean;
  outs: PnmOutput[];
  stderr: string;
}> {
  return new Promise((resolve, reject) => {
    const top = Math.max(2, ...fds);
    const stdio: ('ignore' | 'pipe')[] = Array.from({ length: top + 1 }, (_, i) =>
      i === 2 || fds.includes(i) ? 'pipe' : 'ignore',
    );
    const child = spawnTool(FFMPEG, args, stdio);
    const err: Buffer[] = [];
    let errBytes = 0;
    child.stderr!.on('data', (b: Buffer) => {
      if (errBytes < 1 << 20) err.push(b); // ffmpeg's log, bounded
      errBytes += b.length;
    });
    const outs: PnmOutput[] = fds.map(() => ({ frames: [], bytes: 0, clean: true }));
    const parsers = fds.map(() => new PnmParser());
    let total = 0,
      overBudget = false;
    fds.forEach((fd, k) => {
      const s = child.stdio[fd] as Readable;
      s.on('data', (b: Buffer) => {
        outs[k].bytes += b.length;
        total += b.length;
        if (total >= budget && !overBudget) {
          overBudget = true;
          child.kill('SIGKILL');
          for (const o of outs) o.frames = []; // refused whole: their memory goes now
        }
        if (!outs[k].clean || overBudget) return;
        try {
          for (const f of parsers[k].push(b)) outs[k].frames.push(f);
        } catch (e) {
          if (!(e instanceof PnmStreamError)) throw e;
          outs[k].clean = false;
        }
      });
      s.on('error', () => {
        /* surfaces as a failed exit */
      });
    });
    toolExit(child, FFMPEG, file).then((code) => {
      parsers.forEach((p, k) => {
        if (p.pending) outs[k].clean = false;
      });
      resolve({
        code,
        signal: child.signalCode,
        overBudget,
        outs,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    }, reject);
  });
}

/** Input stream facts from ffmpeg's own stderr (avoids a separate ffprobe process). */
export function parseInputFacts(stderr: string, inputIndex = 0): { fps: number; duration: number } {
  const blocks = stderr.split(/^Input #/m);
  const block = blocks.find((b) => b.startsWith(`${inputIndex},`)) ?? '';
  const vline = block.split('\n').find((l) => /Stream #\d+:\d+.*Video:/.test(l)) ?? '';
  const fpsM = /([\d.]+)(k?) fps/.exec(vline) ?? /([\d.]+)(k?) tbr/.exec(vline);
  const fps = fpsM ? Number(fpsM[1]) * (fpsM[2] ? 1000 : 1) : 0;
  const dm = /Duration: (\d+):(\d+):([\d.]+)/.exec(block);
  const duration = dm ? Number(dm[1]) * 3600 + Number(dm[2]) * 60 + Number(dm[3]) : 0;
  return { fps, duration };
}

/** Check a decode against what the container promised (strict mode). */
export function checkComplete(
  file: string,
  frames: number,
  facts: { fps: number; duration: number },
  opts: DecodeOptions,
): void {
  if (frames === 0) throw new VideoError('corrupt', file, 'no frames could be decoded');
  if (!opts.strict) return;
  const fps = opts.fps ?? facts.fps;
  if (facts.duration > 0 && fps > 0) {
    let expected = Math.round(facts.duration * fps);
    if (opts.maxFrames !== undefined) expected = Math.min(expected, opts.maxFrames);
    if (framesMissing(frames, expected))
      throw new VideoError(
        'truncated',
        file,
        `only ${frames} of ~${expected} frames decodable (truncated or damaged)`,
      );
  }
}

/**
 * Decode a whole video (or its first maxFrames) to uint8 frames in memory — for short clips
 * (LRW); a decode larger than opts.maxBytes (default MAX_DECODE_BYTES) is refused ('too-large').
 * Long or large footage is read frame by frame with readFrames (./video_stream.ts).
 */
export async function decodeVideo(file: string, opts: DecodeOptions = {}): Promise<DecodedVideo> {
  if (opts.fps !== undefined && !(opts.fps > 0))
    throw new VideoError('bad-args', file, `fps must be > 0, got ${opts.fps}`);
  if (opts.maxFrames !== undefined && !(Number.isInteger(opts.maxFrames) && opts.maxFrames > 0))
    throw new VideoError(
      'bad-args',
      file,
      `maxFrames must be a positive integer, got ${opts.maxFrames}`,
    );
  await checkInputFile(file);
  const maxBytes = opts.maxBytes ?? MAX_DECODE_BYTES;
  const o = { ...opts, maxBytes };
  const args = [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-v',
    'info',
    ...(opts.strict ? ['-xerror'] : []),
    ...decodeInputArgs(file, o),
    ...decodeOutputArgs(0, o, 'pipe:1'),
  ];
  const r = await runPnmDecoder(args, file, [1], maxBytes);
  const out = r.outs[0];
  const errLines = r.stderr
    .split('\n')
    .filter((l) => /^\[.*\] .*(error|invalid|corrupt)|Error /i.test(l));
  if (r.overBudget || out.bytes >= maxBytes) throw tooLargeError(file, maxBytes);
  if (r.signal) throw killedError(file, r.signal);
  if (r.code !== 0 || (opts.strict && errLines.length))
    throw classifyFailure(file, r.stderr, await readHead(file));
  const img = out.clean ? stackPnmFrames(out.frames) : null;
  if (!img) throw new VideoError('corrupt', file, 'decoder produced an unreadable frame stream');
  const facts = parseInputFacts(r.stderr);
  checkComplete(file, img.frames, facts, opts);
  let fps = opts.fps ?? facts.fps;
  if (!fps) fps = (await probeVideo(file)).fps;
  let expected = facts.duration > 0 && fps > 0 ? Math.round(facts.duration * fps) : 0;
  if (opts.maxFrames !== undefined) expected = Math.min(expected, opts.maxFrames);
  return { ...img, fps, expectedFrames: expected };
}
