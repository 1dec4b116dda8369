// Videos made from one still photograph with known per-frame similarity transforms — the
// ground truth for ROI tests and the input of `eflip bench roi`. Real pixels, known motion.
import {
  type Affine,
  type Point,
  invertAffine,
  similarityAbout,
  composeAffine,
} from './geometry.js';
import { type Frame, type FrameStack, warpAffine } from './image.js';

export interface Motion {
  /** shift of the anchor point in output pixels */
  dx?: number;
  dy?: number;
  /** scale factor on top of the base zoom */
  scale?: number;
  /** rotation, degrees (counter-clockwise on screen is negative y-up… here: positive = clockwise in image coordinates) */
  degrees?: number;
  /** a missing frame: all black */
  blank?: boolean;
}

export interface ComposeOptions {
  width: number;
  height: number;
  /** photo point that lands at `at` in the output before motion (e.g. the mouth) */
  anchor: Point;
  /** output point for the anchor (default: frame centre) */
  at?: Point;
  /** base zoom photo → output (default 1) */
  zoom?: number;
  fps?: number;
}

/** Photo pixel → frame pixel transform for one frame's motion. */
export function photoToFrame(m: Motion, o: ComposeOptions): Affine {
  const at = o.at ?? [(o.width - 1) / 2, (o.height - 1) / 2];
  const zoom = o.zoom ?? 1;
  // move anchor to `at`, zoom, then scale/rotate about `at` and shift
  const base: Affine = [zoom, 0, at[0] - zoom * o.anchor[0], 0, zoom, at[1] - zoom * o.anchor[1]];
  const motion = similarityAbout(
    at,
    m.scale ?? 1,
    ((m.degrees ?? 0) * Math.PI) / 180,
    m.dx ?? 0,
    m.dy ?? 0,
  );
  return composeAffine(motion, base);
}

/** Render one frame per motion (RGB or grey as the photo). */
export function composeVideo(photo: Frame, motions: Motion[], o: ComposeOptions): FrameStack {
  const n = o.width * o.height * photo.channels;
  const data = new Uint8Array(motions.length * n);
  motions.forEach((m, t) => {
    if (m.blank) return;
    warpAffine(
      photo,
      invertAffine(photoToFrame(m, o)),
      o.width,
      o.height,
      data.subarray(t * n, (t + 1) * n),
    );
  });
  return {
    data,
    frames: motions.length,
    width: o.width,
    height: o.height,
    channels: photo.channels,
    fps: o.fps ?? 25,
  };
}
