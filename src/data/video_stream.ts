// The one frame reader for video files of any length: `eflip roi`, `predict`, `stream` and the
// annotator read through it. ffprobe (refuses what is no video, knows the frame count, the
// display rotation and the duration before any frame is read; ffmpeg may start beside it, see
// readFrames), then one ffmpeg process whose frames arrive one at a time as a PGM/PPM image
// stream, so memory stays bounded by a few frames whatever the video's length. The rules it
// applies to every file:
//   - frames come out upright: ffmpeg autorotates phone videos (display matrix / rotate tag) and
//     the probe's width/height are the rotated ones;
//   - frames whose long side exceeds MAX_FRAME_SIDE are scaled down (aspect kept); frames with a
//     side under MIN_FRAME_SIDE are refused (VideoError 'too-small');
//   - maxSeconds refuses a longer video from the probe, before any frame is read, and again while
//     decoding when the probe under-reports (VideoError 'too-long');
//   - fewer frames than the probe promised is reported through onEnd (callers warn with
//     incompleteWarning); none at all is a VideoError.
import type { ChildProcess } from 'node:child_process';
import {
  FFMPEG,
  MAX_FRAME_SIDE,
  MIN_FRAME_SIDE,
  VideoError,
  checkInputFile,
  classifyFailure,
  decodeInputArgs,
  decodeOutputArgs,
  countPackets,
  expectedFrames,
  probeVideo,
  probedSeconds,
  readHead,
  spawnTool,
  toolExit,
  type VideoInfo,
} from './video.js';
import { type PnmFrame, PnmParser, PnmStreamError } from './video_pnm.js';

/** One decoded frame: H·W·C uint8 (RGB or grey). */
export type VideoFrame = PnmFrame;

export interface ReadOptions {
  /** resample to this frame rate */
  fps?: number;
  /** single-channel luma instead of RGB */
  gray?: boolean;
  /** extra ffmpeg filters after the fps resampling and the size cap (e.g. the model's scale), or a function of the probe's facts */
  filters?: string[] | ((info: VideoInfo) => string[]);
  /** with `filters` a function: what it gives for most files, so ffmpeg can start beside ffprobe (see readFrames) */
  likelyFilters?: string[];
  /** stop quietly after this many frames */
  maxFrames?: number;
  /** refuse videos longer than this many seconds (VideoError 'too-long') */
  maxSeconds?: number;
  /** called once after the last frame: frames decoded and frames the probe promised (0 = unknown) */
  onEnd?: (decoded: number, expected: number) => void;
}

export interface FrameReader {
  /** the probe's facts (width/height after rotation, before the size cap) */
  info: VideoInfo;
  /** frames in order; throws VideoError when nothing decodes or the video runs past maxSeconds */
  frames(): AsyncGenerator<VideoFrame>;
  /** frame rate of the frames */
  fps(): number;
}

/** ffmpeg filter that scales frames larger than MAX_FRAME_SIDE down (only added when needed). */
export function sizeCapFilter(info: Pick<VideoInfo, 'width' | 'height'>): string[] {
  if (Math.max(info.width, info.height) <= MAX_FRAME_SIDE) return [];
  return info.width >= info.height
    ? [`scale=${MAX_FRAME_SIDE}:-2:flags=area`]
    : [`scale=-2:${MAX_FRAME_SIDE}:flags=area`];
}

/**
 * Throws 'too-long' when the video is longer than maxSeconds, before anything is decoded: from
 * the container's stored frame count, or — when it only states a duration, which can lie (mkv,
 * raw streams) — from its packets counted by a demux-only pass (fast even for hours of video).
 */
export async function checkDuration(
  file: string,
  info: VideoInfo,
  maxSeconds: number | undefined,
): Promise<void> {
  if (maxSeconds === undefined) return;
  let s = probedSeconds(info);
  if (s <= maxSeconds + 1e-6 && !info.framesStored)
    s = Math.max(s, (await countPackets(file)) / (info.fps || 25));
  if (s > maxSeconds + 1e-6)
    throw new VideoError(
      'too-long',
      file,
      `the video is ${s.toFixed(1)} s long, over the ${maxSeconds} s limit`,
    );
}

/** One ffmpeg decode to a PNM pipe: its process, its exit, the end of its log. */
interface Decoder {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

function startDecoder(args: string[], file: string): Decoder {
  const child = spawnTool(FFMPEG, args, ['ignore', 'pipe', 'pipe']);
  // a 'readable' listener reads nothing (the pipe fills and ffmpeg waits), but without one Node
  // drops stdout's unread data when ffmpeg exits before `frames()` starts reading (a short clip)
  child.stdout!.on('readable', () => {});
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
    if (stderr.length > 1 << 16) stderr = stderr.slice(-(1 << 15));
  });
  const exited = toolExit(child, FFMPEG, file);
  exited.catch(() => {}); // awaited by its reader; a spawn error also ends stdout
  return { child, exited, stderr: () => stderr };
}

/** Stop a decoder nobody will read; resolves once its process is gone. */
async function discard(d: Decoder): Promise<void> {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  d.child.stdout?.destroy(); // unread frames would hold its 'close' back
  await d.exited.catch(() => {});
}

/** How long a decoder started beside the probe waits for `frames()` before it is stopped. */
const UNCLAIMED_MS = 5000;

/**
 * Read a video frame by frame (RGB or grey uint8 HWC), upright, size-capped.
 *
 * ffprobe and ffmpeg each take ~60–70 ms to start, so ffmpeg starts beside ffprobe with the
 * common case's arguments (the first video stream, no size cap, `filters` or `likelyFilters`),
 * reading nothing until `frames()` is called.
 * When the probe refuses the file, or says other arguments are needed, that decoder is killed
 * (and a right one started by `frames()`); one that `frames()` does not claim within
 * UNCLAIMED_MS is killed too. Nothing is started on what `checkInputFile` refuses.
 */
export async function readFrames(file: string, o: ReadOptions = {}): Promise<FrameReader> {
  if (o.fps !== undefined && !(o.fps > 0 && Number.isFinite(o.fps)))
    throw new VideoError('bad-args', file, `fps must be > 0, got ${o.fps}`);
  const argsFor = (info: VideoInfo | null, filters: string[]) => [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-v',
    'error',
    ...decodeInputArgs(file, {}),
    ...decodeOutputArgs(
      0,
      {
        stream: !info || info.firstVideoStream ? undefined : info.stream, // undefined: v:0
        fps: o.fps,
        gray: o.gray,
        filters: [...(info ? sizeCapFilter(info) : []), ...filters],
        maxFrames: o.maxFrames,
      },
      'pipe:1',
    ),
  ];
  let early: { decoder: Decoder; args: string[] } | null = null;
  const likely = typeof o.filters === 'function' ? o.likelyFilters : (o.filters ?? []);
  if (likely) {
    await checkInputFile(file); // missing, directory, device, FIFO, empty: nothing is started
    const args = argsFor(null, likely);
    early = { decoder: startDecoder(args, file), args };
  }
  let info: VideoInfo;
  let args: string[];
  try {
    info = await probeVideo(file); // missing, directory, device, empty, no video stream, still image
    await checkDuration(file, info, o.maxSeconds);
    if (Math.min(info.width, info.height) < MIN_FRAME_SIDE)
      throw new VideoError(
        'too-small',
        file,
        `frames are ${info.width}×${info.height}, too small to hold a face or lips (at least ${MIN_FRAME_SIDE}×${MIN_FRAME_SIDE})`,
      );
    args = argsFor(info, typeof o.filters === 'function' ? o.filters(info) : (o.filters ?? []));
  } catch (e) {
    if (early) await discard(early.decoder);
    throw e;
  }
  let claimable: Decoder | null = null;
  if (early && early.args.join('\0') === args.join('\0')) claimable = early.decoder;
  else if (early) await discard(early.decoder);
  const unclaimed = claimable
    ? setTimeout(() => {
        if (claimable) void discard(claimable);
        claimable = null;
      }, UNCLAIMED_MS).unref()
    : undefined;
  const fps = o.fps ?? (info.fps || 25);
  const limit = o.maxSeconds !== undefined ? Math.floor(o.maxSeconds * fps + 1e-6) + 1 : Infinity; // frames allowed (one of slack)
  const expected = expectedFrames(info, o.fps, o.maxFrames);
  async function* frames(): AsyncGenerator<VideoFrame> {
    clearTimeout(unclaimed);
    const { child, exited, stderr } = claimable ?? startDecoder(args, file);
    claimable = null;
    const split = new PnmParser();
    let n = 0;
    try {
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
        let got;
        try {
          got = split.push(chunk);
        } catch (e) {
          if (e instanceof PnmStreamError) throw new VideoError('corrupt', file, e.message);
          throw e;
        }
        for (const f of got) {
          if (++n > limit)
            throw new VideoError(
              'too-long',
              file,
              `the video runs past the ${o.maxSeconds} s limit (the container under-reports its length)`,
            );
          yield f;
        }
      }
      const code = await exited;
      if (n === 0) {
        if (code !== 0) throw classifyFailure(file, stderr(), await readHead(file));
        throw new VideoError('empty', file, 'the video has no frames (none decodable)');
      }
      if (split.pending)
        throw new VideoError('corrupt', file, 'decoder produced an unreadable frame stream');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    o.onEnd?.(n, expected);
  }
  return { info, frames, fps: () => fps };
}
