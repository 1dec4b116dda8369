// The 96×96 mouth ROI: per frame, the similarity transform that aligns the landmarks to the
// reference face (template.ts), then a size×size window centred on the aligned mouth centre
// (mean of points 48-67), sampled bilinearly from the frame. Pixels falling outside the
// frame replicate its edge; when more than `maxOutside` of the ROI lies outside, the face is
// too close to the edge and the cut fails with RoiError('edge').
import { RoiError } from './errors.js';
import { type Affine, applyAffine, composeAffine, invertAffine } from './geometry.js';
import { type Frame, type FrameStack, frameAt, warpAffine, warpCorners } from './image.js';
import { type Landmarks, eyeCenters, mouthCenter } from './landmarks.js';
import { REFERENCE_EYE_DISTANCE, alignToReference } from './template.js';

export interface MouthRoiOptions {
  /** output side in pixels (default 96) */
  size?: number;
  /** single-channel output (default true: the model reads grey) */
  gray?: boolean;
  /** largest fraction of the ROI allowed outside the frame before failing (default 0.25) */
  maxOutside?: number;
  /**
   * 'reference' (default): similarity fitted on eyes, nose tip and mouth corners (template.ts);
   * 'eyes': eyes level at 80 px — exactly data/crop.ts landmarkMouthCrop's geometry (`prepare --crop landmarks`)
   */
  align?: RoiAlign;
}

export type RoiAlign = 'reference' | 'eyes';

export interface MouthRois extends FrameStack {
  /** per frame: ROI pixel → frame pixel */
  transforms: Affine[];
  /** per frame: fraction of the ROI outside the frame (edge-replicated) */
  outside: number[];
}

/** ROI pixel (u, v) → frame pixel, for one frame's landmarks. */
export function mouthRoiTransform(lm: Landmarks, size = 96, align: RoiAlign = 'reference'): Affine {
  const half = (size - 1) / 2;
  if (align === 'eyes') {
    // one ROI pixel = (right eye − left eye) / 80 in the frame, centred on the mouth centre
    const [le, re] = eyeCenters(lm);
    const [cx, cy] = mouthCenter(lm);
    const ux = (re[0] - le[0]) / REFERENCE_EYE_DISTANCE,
      uy = (re[1] - le[1]) / REFERENCE_EYE_DISTANCE;
    if (!(Math.hypot(ux, uy) > 1e-6))
      throw new RoiError('bad-landmarks', 'degenerate landmarks (eyes coincide)');
    return [ux, -uy, cx - half * ux + half * uy, uy, ux, cy - half * uy - half * ux];
  }
  const toRef = alignToReference(lm);
  const [mx, my] = applyAffine(toRef, mouthCenter(lm));
  const roiToRef: Affine = [1, 0, mx - half, 0, 1, my - half];
  return composeAffine(invertAffine(toRef), roiToRef);
}

/** The ROI outline in frame pixels (4 corners, clockwise from top-left). */
export function mouthRoiQuad(
  lm: Landmarks,
  size = 96,
  align: RoiAlign = 'reference',
): [number, number][] {
  return warpCorners(mouthRoiTransform(lm, size, align), size, size);
}

/** One frame's ROI into `out` (size·size·C); returns the fraction outside the frame. */
export function cutMouthRoi(
  frame: Frame,
  lm: Landmarks,
  size: number,
  gray: boolean,
  out: Uint8Array,
  align: RoiAlign = 'reference',
  origin: [number, number] = [0, 0],
): { transform: Affine; outside: number } {
  const m = mouthRoiTransform(lm, size, align);
  const r = warpAffine(frame, m, size, size, out, gray, origin);
  return { transform: m, outside: r.outside };
}

class RoiCollector {
  readonly size: number;
  readonly gray: boolean;
  readonly maxOutside: number;
  readonly align: RoiAlign;
  private readonly parts: Uint8Array[] = [];
  readonly transforms: Affine[] = [];
  readonly outside: number[] = [];
  private readonly bad: number[] = [];
  channels: 1 | 3 = 1;

  constructor(o: MouthRoiOptions) {
    this.size = o.size ?? 96;
    this.gray = o.gray ?? true;
    this.maxOutside = o.maxOutside ?? 0.25;
    this.align = o.align ?? 'reference';
  }

  add(t: number, frame: Frame, lm: Landmarks | undefined, window?: SourceWindow): void {
    if (!lm) throw new RoiError('bad-landmarks', `no landmarks for frame ${t}`);
    if (window && (frame.width !== window.width || frame.height !== window.height))
      throw new RoiError(
        'bad-args',
        `frame ${t} is ${frame.width}×${frame.height}, the decoder was asked for ${window.width}×${window.height}`,
      );
    this.channels = this.gray ? 1 : frame.channels;
    const out = new Uint8Array(this.size * this.size * this.channels);
    const r = cutMouthRoi(frame, lm, this.size, this.gray, out, this.align, [
      window?.x ?? 0,
      window?.y ?? 0,
    ]);
    this.parts.push(out);
    this.transforms.push(r.transform);
    this.outside.push(r.outside);
    if (r.outside > this.maxOutside) this.bad.push(t);
  }

  finish(fps: number, expected: number): MouthRois {
    if (this.parts.length !== expected)
      throw new RoiError(
        'bad-landmarks',
        `landmarks cover ${expected} frames, the video has ${this.parts.length}`,
      );
    const { size, bad, outside } = this;
    if (bad.length) {
      const worst = Math.max(...bad.map((t) => outside[t]));
      throw new RoiError(
        'edge',
        `face too close to the frame edge: up to ${(worst * 100).toFixed(0)}% of the ${size}×${size} mouth ROI lies outside the frame in ${bad.length} frame(s) (first: ${bad[0]}; limit ${(this.maxOutside * 100).toFixed(0)}%)`,
      );
    }
    const n = size * size * this.channels;
    const data = new Uint8Array(this.parts.length * n);
    this.parts.forEach((p, t) => data.set(p, t * n));
    return {
      data,
      frames: this.parts.length,
      width: size,
      height: size,
      channels: this.channels,
      fps,
      transforms: this.transforms,
      outside,
    };
  }
}

export function cutMouthRois(
  video: FrameStack,
  landmarks: Landmarks[],
  o: MouthRoiOptions = {},
): MouthRois {
  if (landmarks.length !== video.frames)
    throw new RoiError(
      'bad-landmarks',
      `landmarks cover ${landmarks.length} frames, the video has ${video.frames}`,
    );
  const c = new RoiCollector(o);
  for (let t = 0; t < video.frames; t++) c.add(t, frameAt(video, t), landmarks[t]);
  return c.finish(video.fps, landmarks.length);
}

/** A rectangle of a frame (integer pixels): the part a decoder is asked for. */
export interface SourceWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The smallest part of width×height frames that holds every pixel the ROIs of these landmarks
 * sample (plus the bilinear neighbour and a pixel of margin), reaching the frame's edge
 * wherever an ROI leaves the frame — so cutting from that part (cutMouthRoisStream's
 * `window`) gives exactly the ROIs of whole frames. At 1080p a talking head's ROIs span a few
 * hundred pixels: the cutting pass decodes, pipes and parses a fraction of each frame.
 */
export function roiSourceWindow(
  landmarks: Landmarks[],
  width: number,
  height: number,
  o: MouthRoiOptions = {},
): SourceWindow {
  const size = o.size ?? 96;
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const lm of landmarks) {
    for (const [x, y] of warpCorners(mouthRoiTransform(lm, size, o.align), size, size)) {
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  const left = clamp(Math.floor(x0) - 2, width - 1),
    top = clamp(Math.floor(y0) - 2, height - 1);
  const right = clamp(Math.ceil(x1) + 2, width - 1),
    bottom = clamp(Math.ceil(y1) + 2, height - 1);
  if (!(right >= left && bottom >= top)) return { x: 0, y: 0, width, height };
  return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 };
}

/**
 * The same over streamed frames (one frame in memory at a time, plus the small ROIs). With
 * `window`, the frames are that part of the video's frames (roiSourceWindow).
 */
export async function cutMouthRoisStream(
  frames: AsyncIterable<Frame>,
  landmarks: Landmarks[],
  fps: number,
  o: MouthRoiOptions = {},
  window?: SourceWindow,
): Promise<MouthRois> {
  const c = new RoiCollector(o);
  let t = 0;
  for await (const f of frames) {
    if (t >= landmarks.length)
      throw new RoiError(
        'bad-landmarks',
        `landmarks cover ${landmarks.length} frames, the video has more`,
      );
    c.add(t, f, landmarks[t], window);
    t++;
  }
  return c.finish(fps, landmarks.length);
}
