// Spatial crops of decoded clips (uint8 T·H·W·C, see ./video.ts).
// - centreCrop: the reference implementation's 88×88 centre of the raw 256×256 frame.
// - lrwMouthCrop: the fixed LRW mouth window, 96×96 at rows 115-211, cols 79-175 (docs/design.md
//   "Crops"), optionally followed by its centre 88×88.
// - landmarkMouthCrop: per-frame 68-point iBUG landmarks ([x, y] pixels, T×68×2) → similarity
//   alignment (eyes level, fixed inter-ocular distance) → 96×96 around the mouth centre.
import { shownValue } from '../io/printable.js';

export interface Frames {
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
  channels: number;
}

export class CropError extends Error {
  override name = 'CropError';
}

/** Copy a top/left/h/w window out of every frame; the window must lie inside the frame. */
export function cropWindow(v: Frames, top: number, left: number, h: number, w: number): Frames {
  if (top < 0 || left < 0 || top + h > v.height || left + w > v.width || h <= 0 || w <= 0) {
    throw new CropError(
      `crop ${h}×${w} at (${top},${left}) does not fit a ${v.height}×${v.width} frame`,
    );
  }
  const C = v.channels;
  const out = new Uint8Array(v.frames * h * w * C);
  const rowBytes = w * C;
  for (let t = 0; t < v.frames; t++) {
    const fi = t * v.height * v.width * C;
    const fo = t * h * w * C;
    for (let y = 0; y < h; y++) {
      const s = fi + ((top + y) * v.width + left) * C;
      out.set(v.data.subarray(s, s + rowBytes), fo + y * rowBytes);
    }
  }
  return { data: out, frames: v.frames, height: h, width: w, channels: C };
}

/** Centre size×size crop of the raw frame (the reference implementation's 88×88). */
export function centreCrop(v: Frames, size = 88): Frames {
  return cropWindow(
    v,
    Math.floor((v.height - size) / 2),
    Math.floor((v.width - size) / 2),
    size,
    size,
  );
}

/** LRW's fixed mouth window in a 256×256 frame. */
export const LRW_MOUTH_WINDOW = { top: 115, left: 79, size: 96 } as const;

/** Fixed LRW mouth window (96×96); `size` < 96 takes that window's centre (88 by convention). */
export function lrwMouthCrop(v: Frames, size: 96 | 88 | number = 96): Frames {
  const { top, left } = LRW_MOUTH_WINDOW;
  if (v.height !== 256 || v.width !== 256)
    throw new CropError(`the LRW mouth window needs 256×256 frames, got ${v.height}×${v.width}`);
  const off = Math.floor((96 - size) / 2);
  return cropWindow(v, top + off, left + off, size, size);
}

/** Per-frame landmarks: Float32Array T·68·2 ([x, y] pixels, iBUG 68-point order) or nested arrays. */
export type Landmarks = Float32Array | number[][][];

export interface LandmarkCropOptions {
  /** output side (default 96) */
  size?: number;
  /** inter-ocular distance in the aligned face, pixels (default 80, LRW-like scale) */
  eyeDistance?: number;
  /** temporal smoothing of the alignment: moving-average window in frames (default 5, 1 = off) */
  smooth?: number;
}

function landmarkAt(lm: Landmarks, t: number, i: number): [number, number] {
  if (lm instanceof Float32Array) return [lm[(t * 68 + i) * 2], lm[(t * 68 + i) * 2 + 1]];
  return [lm[t][i][0], lm[t][i][1]];
}

/** Frames that `lm` covers, once its shape is checked: T×68 points of two finite numbers each
 *  (a JSON file may hold anything: null points, strings, 67 points, [x] alone). */
function landmarkFrames(lm: Landmarks): number {
  if (lm instanceof Float32Array) {
    if (lm.length % 136) throw new CropError(`landmarks hold ${lm.length} numbers, not T×68×2`);
    return lm.length / 136;
  }
  if (!Array.isArray(lm)) throw new CropError('landmarks are not a T×68×2 array');
  for (let t = 0; t < lm.length; t++) {
    const f: unknown = lm[t];
    if (!Array.isArray(f) || f.length !== 68)
      throw new CropError(
        `landmarks frame ${t} is ${Array.isArray(f) ? `${f.length} points` : shownValue(f)}, not 68 [x, y] points`,
      );
    for (let i = 0; i < 68; i++) {
      const p: unknown = f[i];
      if (
        !Array.isArray(p) ||
        p.length < 2 ||
        typeof p[0] !== 'number' ||
        typeof p[1] !== 'number' ||
        !Number.isFinite(p[0]) ||
        !Number.isFinite(p[1])
      )
        throw new CropError(
          `landmarks frame ${t} point ${i} is ${shownValue(p)}, not [x, y] numbers`,
        );
    }
  }
  return lm.length;
}

function meanPoint(lm: Landmarks, t: number, from: number, to: number): [number, number] {
  let x = 0,
    y = 0;
  for (let i = from; i <= to; i++) {
    const p = landmarkAt(lm, t, i);
    x += p[0];
    y += p[1];
  }
  return [x / (to - from + 1), y / (to - from + 1)];
}

/**
 * Landmark-based mouth ROI: for each frame, a similarity transform that puts the eye centres
 * (mean of points 36-41 and 42-47) level at `eyeDistance` apart; the output is the size×size
 * window around the mouth centre (mean of points 48-67) in that aligned frame (bilinear).
 */
export function landmarkMouthCrop(
  v: Frames,
  lm: Landmarks,
  opts: LandmarkCropOptions = {},
): Frames {
  const size = opts.size ?? 96;
  const D = opts.eyeDistance ?? 80;
  const T = v.frames;
  const n = landmarkFrames(lm);
  if (n !== T) throw new CropError(`landmarks cover ${n} frames, the clip has ${T} (need T×68×2)`);
  // per-frame (cos·s, sin·s, mouth centre) then temporal smoothing
  const params = new Float64Array(T * 4);
  for (let t = 0; t < T; t++) {
    const le = meanPoint(lm, t, 36, 41),
      re = meanPoint(lm, t, 42, 47),
      mc = meanPoint(lm, t, 48, 67);
    const dx = re[0] - le[0],
      dy = re[1] - le[1];
    const dist = Math.hypot(dx, dy);
    if (!(dist > 1e-3) || !Number.isFinite(mc[0] + mc[1]))
      throw new CropError(`frame ${t}: degenerate landmarks (eyes coincide or NaN)`);
    // source step per output pixel along x: (dx, dy)/dist · (dist / D)
    params.set([dx / D, dy / D, mc[0], mc[1]], t * 4);
  }
  const win = Math.max(1, Math.floor(opts.smooth ?? 5));
  const sm = new Float64Array(T * 4);
  for (let t = 0; t < T; t++) {
    const a = Math.max(0, t - (win >> 1)),
      b = Math.min(T - 1, t + (win >> 1));
    for (let k = 0; k < 4; k++) {
      let s = 0;
      for (let u = a; u <= b; u++) s += params[u * 4 + k];
      sm[t * 4 + k] = s / (b - a + 1);
    }
  }
  const C = v.channels,
    H = v.height,
    W = v.width;
  const out = new Uint8Array(T * size * size * C);
  const half = (size - 1) / 2;
  for (let t = 0; t < T; t++) {
    const [ux, uy, cx, cy] = sm.subarray(t * 4, t * 4 + 4);
    const fi = t * H * W * C;
    for (let oy = 0; oy < size; oy++) {
      for (let ox = 0; ox < size; ox++) {
        const px = ox - half,
          py = oy - half;
        // x axis along (ux,uy), y axis perpendicular (-uy, ux)
        const sx = cx + px * ux - py * uy;
        const sy = cy + px * uy + py * ux;
        const x0 = Math.floor(sx),
          y0 = Math.floor(sy);
        const fx = sx - x0,
          fy = sy - y0;
        const xa = Math.min(W - 1, Math.max(0, x0)),
          xb = Math.min(W - 1, Math.max(0, x0 + 1));
        const ya = Math.min(H - 1, Math.max(0, y0)),
          yb = Math.min(H - 1, Math.max(0, y0 + 1));
        const o = ((t * size + oy) * size + ox) * C;
        for (let c = 0; c < C; c++) {
          const p00 = v.data[fi + (ya * W + xa) * C + c],
            p01 = v.data[fi + (ya * W + xb) * C + c];
          const p10 = v.data[fi + (yb * W + xa) * C + c],
            p11 = v.data[fi + (yb * W + xb) * C + c];
          out[o + c] = Math.round(
            (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy,
          );
        }
      }
    }
  }
  return { data: out, frames: T, height: size, width: size, channels: C };
}

/** RGB → grey (BT.601 luma, like OpenCV's COLOR_RGB2GRAY); grey input is returned as is. */
export function toGray(v: Frames): Frames {
  if (v.channels === 1) return v;
  const n = v.frames * v.height * v.width;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(
      0.299 * v.data[3 * i] + 0.587 * v.data[3 * i + 1] + 0.114 * v.data[3 * i + 2],
    );
  return { data: out, frames: v.frames, height: v.height, width: v.width, channels: 1 };
}
