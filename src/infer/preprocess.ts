// Shared pre-processing for every backend and for streaming: crop (the checkpoint's crop rule)
// → grey (the checkpoint's rule: 8-bit BT.601, or torchvision's float luma from RGB frames)
// → normalise ((x/255 − mean)/std, the same scalars on every channel) into the planes the
// network takes (inputPlanes: grey or RGB, plus a word-boundary plane for such models). Decoding lives in ./frame_reader.ts (Node); this file has no
// Node imports so the browser build uses the same code. Accepts LRW clips
// (256×256), mouth-ROI videos (96×96, e.g. from `eflip roi`), ready crops (88×88) and
// arbitrary videos of any size, fps and length (scaled so the short side is 256, centred).
import { centreCrop, lrwMouthCrop, toGray, type Frames } from '../data/crop.js';
import { InferenceInputError, type Clip, type Preprocessing } from './types.js';

/** LRW's frame rate: the network was trained on 25 fps clips. */
export const MODEL_FPS = 25;
const LRW_SIDE = 256;

/** Bilinear resize of every frame (uint8, any channel count). */
export function resizeFrames(v: Frames, h: number, w: number): Frames {
  const C = v.channels;
  const out = new Uint8Array(v.frames * h * w * C);
  const sy = v.height / h;
  const sx = v.width / w;
  for (let t = 0; t < v.frames; t++) {
    const fi = t * v.height * v.width * C;
    const fo = t * h * w * C;
    for (let y = 0; y < h; y++) {
      const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), v.height - 1);
      const y0 = Math.floor(fy);
      const y1 = Math.min(y0 + 1, v.height - 1);
      const dy = fy - y0;
      for (let x = 0; x < w; x++) {
        const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), v.width - 1);
        const x0 = Math.floor(fx);
        const x1 = Math.min(x0 + 1, v.width - 1);
        const dx = fx - x0;
        for (let c = 0; c < C; c++) {
          const p = (yy: number, xx: number) => v.data[fi + (yy * v.width + xx) * C + c];
          const top = p(y0, x0) * (1 - dx) + p(y0, x1) * dx;
          const bot = p(y1, x0) * (1 - dx) + p(y1, x1) * dx;
          out[fo + (y * w + x) * C + c] = Math.round(top * (1 - dy) + bot * dy);
        }
      }
    }
  }
  return { data: out, frames: v.frames, height: h, width: w, channels: C };
}

/** Short side → `side`, then the centred side×side square. */
function toSquare(v: Frames, side: number): Frames {
  if (v.height === side && v.width === side) return v;
  const scale = side / Math.min(v.height, v.width);
  const h = Math.max(side, Math.round(v.height * scale));
  const w = Math.max(side, Math.round(v.width * scale));
  return centreCrop(resizeFrames(v, h, w), side);
}

/** The network's input crop from decoded frames, following the checkpoint's crop rule. */
export function cropForModel(v: Frames, pre: Preprocessing): Frames {
  const s = pre.size;
  if (v.frames < 1) throw new InferenceInputError('the video has no frames');
  if (v.height === s && v.width === s) return v; // already a crop
  if (v.height === v.width && v.height < s)
    throw new InferenceInputError(
      `frames are ${v.width}×${v.height}, smaller than the model's ${s}×${s} crop: give a mouth ROI of at least ${s}×${s} (96×96 as \`eflip roi\` writes) or the whole video`,
    );
  if (v.height === v.width && v.height < 2 * s) return centreCrop(v, s); // a mouth ROI (e.g. 96×96)
  const lrw = toSquare(v, LRW_SIDE);
  if (pre.crop === 'center') return centreCrop(lrw, s);
  // 'mouth' (and 'landmarks' without landmarks): the fixed LRW mouth window, its centre size×size
  return lrwMouthCrop(lrw, s);
}

/** What a network with `channels` inputs is fed: grey (1) or RGB (3) image planes, plus a
 *  word-boundary plane (2 = grey + boundary, 4 = RGB + boundary; training's data.word_boundary).
 *  Inference does not know where the word is, so that plane is all 1 (the whole clip is the word,
 *  as in training on clips without a Duration). */
export function inputPlanes(channels: number): { image: 1 | 3; wordBoundary: boolean } {
  switch (channels) {
    case 1:
      return { image: 1, wordBoundary: false };
    case 2:
      return { image: 1, wordBoundary: true };
    case 3:
      return { image: 3, wordBoundary: false };
    case 4:
      return { image: 3, wordBoundary: true };
    default:
      throw new InferenceInputError(
        `the model takes ${channels} input channels; supported: 1 (grey), 3 (RGB), each optionally plus a word-boundary channel`,
      );
  }
}

/** uint8 frames (T·H·W·C, grey or RGB) → normalised Clip (channels, T, H, W) for a network with
 *  `channels` inputs (default 1: grey; 3: RGB — grey frames are repeated on R, G and B). */
export function normalise(v: Frames, pre: Preprocessing, fps?: number, channels = 1): Clip {
  const planes = inputPlanes(channels);
  const a = 1 / (255 * pre.std);
  const b = -pre.mean / pre.std;
  if (planes.image === 1 && v.channels === 3 && pre.grey === 'torchvision') {
    // torchvision's rgb_to_grayscale on RGB floats (x/255), not rounded to 8 bits
    const n = v.frames * v.height * v.width;
    const data = new Float32Array(channels * n);
    const src = v.data;
    for (let i = 0; i < n; i++) {
      const y =
        0.2989 * (src[3 * i] / 255) +
        0.587 * (src[3 * i + 1] / 255) +
        0.114 * (src[3 * i + 2] / 255);
      data[i] = (y - pre.mean) / pre.std;
    }
    if (planes.wordBoundary) data.fill(1, n);
    return { data, frames: v.frames, channels, size: v.height, fps };
  }
  const g = planes.image === 1 ? toGray(v) : v;
  const n = g.frames * g.height * g.width;
  const data = new Float32Array(channels * n);
  if (planes.image === 1 || g.channels === 1) {
    for (let i = 0; i < n; i++) data[i] = g.data[i] * a + b;
    for (let c = 1; c < planes.image; c++) data.copyWithin(c * n, 0, n);
  } else {
    if (g.channels !== 3)
      throw new InferenceInputError(
        `frames have ${g.channels} channels; expected 1 (grey) or 3 (RGB)`,
      );
    for (let c = 0; c < 3; c++)
      for (let i = 0, o = c * n; i < n; i++) data[o + i] = g.data[3 * i + c] * a + b;
  }
  if (planes.wordBoundary) data.fill(1, planes.image * n);
  return { data, frames: g.frames, channels, size: g.height, fps };
}

/** Decoded frames → model-ready clip (crop + normalise) for a network with `channels` inputs. */
export function prepareFrames(v: Frames, pre: Preprocessing, fps?: number, channels = 1): Clip {
  return normalise(cropForModel(v, pre), pre, fps, channels);
}

/** Model-ready frames (each C·S·S, channel-major, as readModelFrames yields them) → one clip (C, T, S, S). */
export function stackFrames(
  frames: Float32Array[],
  channels: number,
  size: number,
  fps?: number,
): Clip {
  const T = frames.length;
  const per = size * size;
  const data = new Float32Array(T * channels * per);
  frames.forEach((f, t) => {
    for (let c = 0; c < channels; c++)
      data.set(f.subarray(c * per, (c + 1) * per), (c * T + t) * per);
  });
  return { data, frames: T, channels, size, fps };
}
