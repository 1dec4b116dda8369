// Frames as plain uint8 HWC buffers, and the one resampler the ROI code needs: an affine
// warp with bilinear interpolation and edge replication (used for tracking crops, the mouth
// ROI and the synthetic test videos).
import { type Affine, applyAffine } from './geometry.js';

/** One frame: H·W·C uint8, HWC order, RGB (C = 3) or grey (C = 1). */
export interface Frame {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** A video held in memory: T·H·W·C uint8, frame-major (the layout of data/video.ts). */
export interface FrameStack {
  data: Uint8Array;
  frames: number;
  width: number;
  height: number;
  channels: 1 | 3;
  fps: number;
}

/** Frame t of a stack (a view, no copy). */
export function frameAt(v: FrameStack, t: number): Frame {
  const n = v.width * v.height * v.channels;
  return {
    data: v.data.subarray(t * n, (t + 1) * n),
    width: v.width,
    height: v.height,
    channels: v.channels,
  };
}

/** BT.601 luma of an RGB frame (a grey frame is returned as is). */
export function toGray(f: Frame): Frame {
  if (f.channels === 1) return f;
  const n = f.width * f.height;
  const out = new Uint8Array(n);
  const d = f.data;
  for (let i = 0, j = 0; i < n; i++, j += 3)
    out[i] = Math.round(0.299 * d[j] + 0.587 * d[j + 1] + 0.114 * d[j + 2]);
  return { data: out, width: f.width, height: f.height, channels: 1 };
}

/** Grey → RGB by replication (RGB returned as is). */
export function toRgb(f: Frame): Frame {
  if (f.channels === 3) return f;
  const n = f.width * f.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = f.data[i];
  return { data: out, width: f.width, height: f.height, channels: 3 };
}

export interface WarpResult extends Frame {
  /** fraction of output pixels whose source point fell outside the input frame (edge-replicated) */
  outside: number;
}

/**
 * out(u, v) = src(dstToSrc(u, v)) for an outW×outH output, bilinear, pixel centres at
 * integer coordinates, edges replicated outside the frame. `out` may be given to reuse memory.
 * `gray` on an RGB source gives exactly warpAffine(toGray(src), …) while converting only the
 * pixels sampled (a 96×96 ROI from a 1080p frame: 37 k conversions instead of 2 M).
 * `origin`: `src` is the part of a larger frame whose top-left pixel is there (dstToSrc maps
 * into the larger frame); when the part holds every pixel the warp samples plus a 1-pixel
 * margin, and reaches the frame's edges where the warp leaves the frame, the result (and the
 * outside fraction) is exactly the one from the whole frame (x − x0 is exact for integer x0).
 */
export function warpAffine(
  src: Frame,
  dstToSrc: Affine,
  outW: number,
  outH: number,
  out?: Uint8Array,
  gray = false,
  origin: [number, number] = [0, 0],
): WarpResult {
  if (gray && src.channels === 3) return warpRgbToGray(src, dstToSrc, outW, outH, out, origin);
  const C = src.channels;
  const W = src.width,
    H = src.height;
  const dst = out ?? new Uint8Array(outW * outH * C);
  const [a, b, c, d, e, f] = dstToSrc;
  const [ox, oy] = origin;
  const s = src.data;
  const row = W * C;
  let outsideCount = 0;
  let o = 0;
  // the per-frame hot loop of tracking (a 112×112 RGB crop per frame): coordinates are clamped
  // to ≥ 0 first, so `| 0` is Math.floor and `(v + 0.5) | 0` is Math.round of the non-negative sums
  for (let v = 0; v < outH; v++) {
    for (let u = 0; u < outW; u++) {
      let x = a * u + b * v + c - ox;
      let y = d * u + e * v + f - oy;
      if (x < -0.5 || y < -0.5 || x > W - 0.5 || y > H - 0.5) outsideCount++;
      x = x < 0 ? 0 : x > W - 1 ? W - 1 : x;
      y = y < 0 ? 0 : y > H - 1 ? H - 1 : y;
      const x0 = x | 0,
        y0 = y | 0;
      const fx = x - x0,
        fy = y - y0;
      const w00 = (1 - fx) * (1 - fy),
        w01 = fx * (1 - fy),
        w10 = (1 - fx) * fy,
        w11 = fx * fy;
      const i00 = y0 * row + x0 * C;
      const i01 = x0 + 1 < W ? i00 + C : i00;
      const dy = y0 + 1 < H ? row : 0;
      const i10 = i00 + dy,
        i11 = i01 + dy;
      if (C === 3) {
        dst[o] = (w00 * s[i00] + w01 * s[i01] + w10 * s[i10] + w11 * s[i11] + 0.5) | 0;
        dst[o + 1] =
          (w00 * s[i00 + 1] + w01 * s[i01 + 1] + w10 * s[i10 + 1] + w11 * s[i11 + 1] + 0.5) | 0;
        dst[o + 2] =
          (w00 * s[i00 + 2] + w01 * s[i01 + 2] + w10 * s[i10 + 2] + w11 * s[i11 + 2] + 0.5) | 0;
        o += 3;
      } else {
        dst[o++] = (w00 * s[i00] + w01 * s[i01] + w10 * s[i10] + w11 * s[i11] + 0.5) | 0;
      }
    }
  }
  return {
    data: dst,
    width: outW,
    height: outH,
    channels: C,
    outside: outsideCount / (outW * outH),
  };
}

/** BT.601 luma of the RGB pixel at byte offset i, rounded (as toGray). */
function luma(s: Uint8Array, i: number): number {
  return (0.299 * s[i] + 0.587 * s[i + 1] + 0.114 * s[i + 2] + 0.5) | 0;
}

function warpRgbToGray(
  src: Frame,
  dstToSrc: Affine,
  outW: number,
  outH: number,
  out: Uint8Array | undefined,
  origin: [number, number],
): WarpResult {
  const W = src.width,
    H = src.height;
  const dst = out ?? new Uint8Array(outW * outH);
  const [a, b, c, d, e, f] = dstToSrc;
  const [ox, oy] = origin;
  const s = src.data;
  const row = W * 3;
  let outsideCount = 0;
  let o = 0;
  for (let v = 0; v < outH; v++) {
    for (let u = 0; u < outW; u++) {
      let x = a * u + b * v + c - ox;
      let y = d * u + e * v + f - oy;
      if (x < -0.5 || y < -0.5 || x > W - 0.5 || y > H - 0.5) outsideCount++;
      x = x < 0 ? 0 : x > W - 1 ? W - 1 : x;
      y = y < 0 ? 0 : y > H - 1 ? H - 1 : y;
      const x0 = x | 0,
        y0 = y | 0;
      const fx = x - x0,
        fy = y - y0;
      const i00 = y0 * row + x0 * 3;
      const i01 = x0 + 1 < W ? i00 + 3 : i00;
      const dy = y0 + 1 < H ? row : 0;
      dst[o++] =
        ((1 - fx) * (1 - fy) * luma(s, i00) +
          fx * (1 - fy) * luma(s, i01) +
          (1 - fx) * fy * luma(s, i00 + dy) +
          fx * fy * luma(s, i01 + dy) +
          0.5) |
        0;
    }
  }
  return {
    data: dst,
    width: outW,
    height: outH,
    channels: 1,
    outside: outsideCount / (outW * outH),
  };
}

/** Where the four corners of an outW×outH warp output lie in the source frame (clockwise from top-left). */
export function warpCorners(dstToSrc: Affine, outW: number, outH: number): [number, number][] {
  return [
    applyAffine(dstToSrc, [-0.5, -0.5]),
    applyAffine(dstToSrc, [outW - 0.5, -0.5]),
    applyAffine(dstToSrc, [outW - 0.5, outH - 0.5]),
    applyAffine(dstToSrc, [-0.5, outH - 0.5]),
  ];
}
