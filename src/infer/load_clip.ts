// Video file → model-ready clip (Node): decode with ffmpeg (grey, resampled to 25 fps), then the
// shared crop + normalise of ./preprocess.ts.
import { decodeVideo } from '../data/video.js';
import { MODEL_FPS, prepareFrames } from './preprocess.js';
import { InferenceInputError, type Clip, type Preprocessing } from './types.js';

/** Video file → model-ready clip: decode grey at 25 fps, crop, normalise. */
export async function loadClip(file: string, pre: Preprocessing, opts: { maxFrames?: number } = {}): Promise<Clip> {
  const v = await decodeVideo(file, { gray: true, fps: MODEL_FPS, maxFrames: opts.maxFrames });
  if (v.frames < 1) throw new InferenceInputError(`${file}: the video has no frames`);
  return prepareFrames(v, pre, v.fps);
}
