// Frames of a video file, decoded by ffmpeg one at a time (constant memory, any length): grey
// (or RGB for colour models: `channels` 3/4), resampled to 25 fps, large frames scaled by ffmpeg so the short side is 256 (the LRW frame
// scale), then the shared crop + normalise. Used by predict (collects) and stream (iterates).
import { framesMissing } from '../data/video.js';
import { readFrames } from '../data/video_stream.js';
import { cropForModel, inputPlanes, MODEL_FPS, normalise, stackFrames } from './preprocess.js';
import type { Clip, Preprocessing } from './types.js';

const LRW_SIDE = 256;
/** frames are cut to at most this aspect ratio (centre) before scaling */
const MAX_ASPECT = 4;

/** ffmpeg filters for the model after the 25 fps resampling: optional short-side-256 scale, grey (or RGB for `channels` 3/4). */
export function modelFilters(
  width: number,
  height: number,
  pre: Preprocessing,
  channels = 1,
): string[] {
  const f: string[] = [];
  const ready = width === height && width < 2 * pre.size; // a crop or mouth ROI: no scaling
  // the centre of frames wider (or taller) than 4:1 first: a 10000×16 video would otherwise be
  // scaled to 160000×256 (~40 s per second of video) for a crop from its middle
  if (!ready)
    f.push(
      `crop='min(iw,${MAX_ASPECT}*ih)':'min(ih,${MAX_ASPECT}*iw)'`,
      `scale='if(lt(iw,ih),${LRW_SIDE},-2)':'if(lt(iw,ih),-2,${LRW_SIDE})':flags=bilinear`,
    );
  f.push(decodesRgb(pre, channels) ? 'format=rgb24' : 'format=gray');
  return f;
}

/** RGB frames for colour models, and for grey models whose grey is computed from RGB floats (torchvision). */
export function decodesRgb(pre: Preprocessing, channels = 1): boolean {
  return inputPlanes(channels).image === 3 || pre.grey === 'torchvision';
}

/** ffmpeg filter chain for the model: fps, optional short-side-256 scale, grey (or RGB for `channels` 3/4). */
export function filterChain(
  width: number,
  height: number,
  pre: Preprocessing,
  channels = 1,
): string {
  return [`fps=${MODEL_FPS}`, ...modelFilters(width, height, pre, channels)].join(',');
}

export interface ReadOptions {
  maxFrames?: number;
  /** refuse videos longer than this many seconds: from the probe before decoding, and while decoding */
  maxSeconds?: number;
  /** the network's input channels (LipReader.channels): 1 grey (default), 3 RGB; 2/4 add a word-boundary plane of 1s */
  channels?: number;
  /** called once at the end when fewer frames decode than the container promises (truncated video) */
  onIncomplete?: (decoded: number, expected: number) => void;
}

/** Model-ready frames (C·S·S normalised, channel-major) of a video, one at a time (the one frame reader, data/video_stream.ts). */
export async function* readModelFrames(
  file: string,
  pre: Preprocessing,
  opts: ReadOptions = {},
): AsyncGenerator<Float32Array> {
  const channels = opts.channels ?? 1;
  const rgb = decodesRgb(pre, channels);
  const reader = await readFrames(file, {
    fps: MODEL_FPS,
    gray: !rgb,
    filters: (info) => modelFilters(info.width, info.height, pre, channels),
    likelyFilters: modelFilters(0, 1, pre, channels), // frames that are no mouth crop (LRW, a camera)
    maxFrames: opts.maxFrames,
    maxSeconds: opts.maxSeconds,
    onEnd: (decoded, expected) => {
      if (framesMissing(decoded, expected)) opts.onIncomplete?.(decoded, expected);
    },
  });
  for await (const f of reader.frames()) {
    yield normalise(
      cropForModel(
        { data: f.data, frames: 1, height: f.height, width: f.width, channels: f.channels },
        pre,
      ),
      pre,
      undefined,
      channels,
    ).data;
  }
}

/** A whole video as one model-ready clip (channels, T, S, S). */
export async function loadClip(
  file: string,
  pre: Preprocessing,
  opts: ReadOptions = {},
): Promise<Clip> {
  const frames: Float32Array[] = [];
  for await (const f of readModelFrames(file, pre, opts)) frames.push(f);
  return stackFrames(frames, opts.channels ?? 1, pre.size, MODEL_FPS);
}
