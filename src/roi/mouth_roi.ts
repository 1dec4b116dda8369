// The 96×96 mouth ROI: per frame, the similarity transform that aligns the landmarks to the
// reference face (template.ts), then a size×size window centred on the aligned mouth centre
// (mean of points 48-67), sampled bilinearly from the frame. Pixels falling outside the
// frame replicate its edge; when more than `maxOutside` of the ROI lies outside, the face is
// too close to the edge and the cut fails with RoiError('edge').
import { RoiError } from './errors.js';
import { type Affine, applyAffine, composeAffine, invertAffine } from './geometry.js';
import { type FrameStack, frameAt, toGray, warpAffine, warpCorners } from './image.js';
import { type Landmarks, mouthCenter } from './landmarks.js';
import { alignToReference } from './template.js';

export interface MouthRoiOptions {
  /** output side in pixels (default 96) */
  size?: number;
  /** single-channel output (default true: the model reads grey) */
  gray?: boolean;
  /** largest fraction of the ROI allowed outside the frame before failing (default 0.25) */
  maxOutside?: number;
}

export interface MouthRois extends FrameStack {
  /** per frame: ROI pixel → frame pixel */
  transforms: Affine[];
  /** per frame: fraction of the ROI outside the frame (edge-replicated) */
  outside: number[];
}

/** ROI pixel (u, v) → frame pixel, for one frame's landmarks. */
export function mouthRoiTransform(lm: Landmarks, size = 96): Affine {
  const toRef = alignToReference(lm);
  const [mx, my] = applyAffine(toRef, mouthCenter(lm));
  const half = (size - 1) / 2;
  const roiToRef: Affine = [1, 0, mx - half, 0, 1, my - half];
  return composeAffine(invertAffine(toRef), roiToRef);
}

/** The ROI outline in frame pixels (4 corners, clockwise from top-left). */
export function mouthRoiQuad(lm: Landmarks, size = 96): [number, number][] {
  return warpCorners(mouthRoiTransform(lm, size), size, size);
}

export function cutMouthRois(video: FrameStack, landmarks: Landmarks[], o: MouthRoiOptions = {}): MouthRois {
  const size = o.size ?? 96;
  const gray = o.gray ?? true;
  const maxOutside = o.maxOutside ?? 0.25;
  if (landmarks.length !== video.frames) throw new RoiError('bad-landmarks', `landmarks cover ${landmarks.length} frames, the video has ${video.frames}`);
  const C = gray ? 1 : video.channels;
  const data = new Uint8Array(video.frames * size * size * C);
  const transforms: Affine[] = [];
  const outside: number[] = [];
  const bad: number[] = [];
  for (let t = 0; t < video.frames; t++) {
    const m = mouthRoiTransform(landmarks[t], size);
    const f = gray ? toGray(frameAt(video, t)) : frameAt(video, t);
    const r = warpAffine(f, m, size, size, data.subarray(t * size * size * C, (t + 1) * size * size * C));
    transforms.push(m);
    outside.push(r.outside);
    if (r.outside > maxOutside) bad.push(t);
  }
  if (bad.length) {
    const worst = Math.max(...bad.map((t) => outside[t]));
    throw new RoiError('edge', `face too close to the frame edge: up to ${(worst * 100).toFixed(0)}% of the ${size}×${size} mouth ROI lies outside the frame in ${bad.length} frame(s) (first: ${bad[0]}; limit ${(maxOutside * 100).toFixed(0)}%)`);
  }
  return { data, frames: video.frames, width: size, height: size, channels: C as 1 | 3, fps: video.fps, transforms, outside };
}
