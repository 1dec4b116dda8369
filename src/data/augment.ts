// Clip → normalised float sample, with the training augmentations of docs/design.md "Data":
// random temporal crop keeping the word, random 88 crop of the 96 ROI (centre crop when not
// training), horizontal flip, time masking (masked frames = clip mean), normalisation, an
// optional word-boundary channel; mixup works on whole batches (mixupBatch). Grey (1 channel)
// and colour (3 channels, RGB) clips alike: every channel gets the same crop, flip and masks,
// and the same scalar mean/std.
import { Rng } from './rng.js';

export interface AugmentConfig {
  /** spatial output side; random crop when training, centre crop otherwise (default 88) */
  crop: number;
  /** random crop position (else centre) */
  randomCrop: boolean;
  /** horizontal flip probability (0 = off) */
  flip: number;
  /** time masking: up to `count` masks, each 0..maxFrames frames long (0 = off) */
  timeMask: { count: number; maxFrames: number };
  /** mixup: Beta(alpha, alpha), applied with probability p per batch (alpha 0 = off) */
  mixup: { alpha: number; p: number };
  /** output frames; a random window of this length that keeps the word (0 = all frames, no crop) */
  temporalCrop: number;
  /** frames per clip in the batch (shorter clips are zero-padded, longer ones cut; default 29) */
  frames: number;
  /** word-boundary: 'none', 'channel' (extra input channel, 1 inside the word) or 'array' (batch.boundary) */
  boundary: 'none' | 'channel' | 'array';
  /** normalisation on [0,1] pixels */
  mean: number;
  std: number;
  /** frame rate of the stored clips (for Duration → frames) */
  fps: number;
}

export const EVAL_AUGMENT: AugmentConfig = {
  crop: 88,
  randomCrop: false,
  flip: 0,
  timeMask: { count: 0, maxFrames: 0 },
  mixup: { alpha: 0, p: 0 },
  temporalCrop: 0,
  frames: 29,
  boundary: 'none',
  mean: 0.421,
  std: 0.165,
  fps: 25,
};

/** The usual LRW training recipe (docs/design.md): random crop, flip 0.5, one mask ≤ 0.6 s, mixup Beta(0.4, 0.4). */
export const TRAIN_AUGMENT: AugmentConfig = {
  ...EVAL_AUGMENT,
  randomCrop: true,
  flip: 0.5,
  timeMask: { count: 1, maxFrames: 15 },
  mixup: { alpha: 0.4, p: 1 },
};

export function resolveAugment(
  a: Partial<AugmentConfig> | undefined,
  training: boolean,
): AugmentConfig {
  const base = training ? TRAIN_AUGMENT : EVAL_AUGMENT;
  return {
    ...base,
    ...a,
    timeMask: { ...base.timeMask, ...a?.timeMask },
    mixup: { ...base.mixup, ...a?.mixup },
  };
}

export interface ClipIn {
  /** T·H·W·C uint8 */
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
  channels: number;
  /** word duration, seconds (null = unknown: the whole clip counts as word) */
  duration: number | null;
}

/** What the augmentation chose for one sample (for tests and debugging). */
export interface SampleTrace {
  top: number;
  left: number;
  flipped: boolean;
  t0: number;
  masks: [number, number][];
  word: [number, number];
}

/** Output channels per sample given the config and input channels. */
export function outChannels(a: AugmentConfig, inChannels: number): number {
  return inChannels + (a.boundary === 'channel' ? 1 : 0);
}
export function outFrames(a: AugmentConfig): number {
  return a.temporalCrop > 0 ? a.temporalCrop : a.frames;
}

/** Word frames [start, end) of a centred word (LRW words are centred in the clip). */
export function wordFrames(frames: number, duration: number | null, fps: number): [number, number] {
  if (!duration || duration <= 0) return [0, frames];
  const len = Math.min(frames, Math.max(1, Math.round(duration * fps)));
  const s = Math.max(0, Math.floor((frames - len) / 2));
  return [s, Math.min(frames, s + len)];
}

/**
 * Write one sample into `x` at sample offset `xo` (layout C, T, H, W) and, when requested, its
 * boundary row into `boundary` (T). Returns what was chosen.
 */
export function augmentSample(
  clip: ClipIn,
  a: AugmentConfig,
  rng: Rng,
  x: Float32Array,
  xo: number,
  boundary?: Float32Array,
  bo = 0,
): SampleTrace {
  const S = a.crop,
    T = outFrames(a),
    C = clip.channels;
  if (clip.height < S || clip.width < S)
    throw new Error(`clip is ${clip.height}×${clip.width}, smaller than the ${S} crop`);
  // temporal window keeping the word
  const word = wordFrames(clip.frames, clip.duration, a.fps);
  let t0 = 0;
  if (a.temporalCrop > 0 && clip.frames > T) {
    const lo = Math.max(0, word[1] - T),
      hi = Math.min(word[0], clip.frames - T);
    t0 =
      lo <= hi
        ? lo + rng.int(hi - lo + 1)
        : Math.max(0, Math.min(clip.frames - T, Math.round((word[0] + word[1] - T) / 2)));
  }
  const top = a.randomCrop ? rng.int(clip.height - S + 1) : Math.floor((clip.height - S) / 2);
  const left = a.randomCrop ? rng.int(clip.width - S + 1) : Math.floor((clip.width - S) / 2);
  const flipped = a.flip > 0 && rng.next() < a.flip;
  const scale = 1 / (255 * a.std),
    shift = -a.mean / a.std;
  const plane = T * S * S;
  const used = Math.min(T, clip.frames - t0);
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v * scale + shift;
  // per-channel pixel sums of the used frames (time masks fill each channel with its own mean)
  const sums = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let t = 0; t < T; t++) {
      const o = xo + c * plane + t * S * S;
      if (t >= used) {
        x.fill(0, o, o + S * S);
        continue;
      }
      const fi = (t0 + t) * clip.height * clip.width * C;
      for (let y = 0; y < S; y++) {
        const row = fi + ((top + y) * clip.width + left) * C + c;
        const oo = o + y * S;
        const d = clip.data;
        if (flipped)
          for (let xx = 0, r = row + (S - 1) * C; xx < S; xx++, r -= C) {
            const v = d[r];
            sum += v;
            x[oo + xx] = lut[v];
          }
        else
          for (let xx = 0, r = row; xx < S; xx++, r += C) {
            const v = d[r];
            sum += v;
            x[oo + xx] = lut[v];
          }
      }
    }
    sums[c] = sum;
  }
  // time masking with the clip mean (per channel: a colour clip's masked frames are its mean colour)
  const masks: [number, number][] = [];
  if (a.timeMask.count > 0 && a.timeMask.maxFrames > 0 && used > 0) {
    const meanV = Array.from(sums, (sum) => (sum / (used * S * S)) * scale + shift);
    for (let m = 0; m < a.timeMask.count; m++) {
      const len = rng.int(Math.min(a.timeMask.maxFrames, used) + 1);
      if (len === 0) continue;
      const s = rng.int(used - len + 1);
      masks.push([s, s + len]);
      for (let c = 0; c < C; c++)
        x.fill(meanV[c], xo + c * plane + s * S * S, xo + c * plane + (s + len) * S * S);
    }
  }
  // boundary: 1 on frames inside the word (in output time)
  const inWord = (t: number) => (t + t0 >= word[0] && t + t0 < word[1] && t < used ? 1 : 0);
  if (a.boundary === 'channel')
    for (let t = 0; t < T; t++)
      x.fill(inWord(t), xo + C * plane + t * S * S, xo + C * plane + (t + 1) * S * S);
  if (boundary) for (let t = 0; t < T; t++) boundary[bo + t] = inWord(t);
  return { top, left, flipped, t0, masks, word: [word[0] - t0, word[1] - t0] };
}

/**
 * Mixup in place over a batch of B samples of `per` floats: x_i ← λ_i x_i + (1-λ_i) x_{π(i)},
 * π a random permutation; one λ ~ Beta(α, α) per batch. Returns π's labels and λ per sample.
 */
export function mixupBatch(
  x: Float32Array,
  B: number,
  per: number,
  labels: Int32Array,
  a: AugmentConfig,
  rng: Rng,
): { labelsB: Int32Array; lambda: Float32Array } | null {
  if (!(a.mixup.alpha > 0) || B < 2 || rng.next() >= a.mixup.p) return null;
  const perm = Int32Array.from({ length: B }, (_, i) => i);
  rng.shuffle(perm);
  const lam = rng.beta(a.mixup.alpha, a.mixup.alpha);
  // walk the permutation's cycles so only one sample needs a copy per cycle
  const done = new Uint8Array(B);
  const saved = new Float32Array(per);
  const mu = 1 - lam;
  const blend = (o: number, src: Float32Array, so: number) => {
    for (let k = 0; k < per; k++) x[o + k] = lam * x[o + k] + mu * src[so + k];
  };
  for (let i0 = 0; i0 < B; i0++) {
    if (done[i0]) continue;
    saved.set(x.subarray(i0 * per, (i0 + 1) * per));
    let i = i0;
    while (!done[i]) {
      done[i] = 1;
      const j = perm[i];
      if (j === i0) blend(i * per, saved, 0);
      else blend(i * per, x, j * per);
      i = j;
    }
  }
  return {
    labelsB: Int32Array.from(perm, (j) => labels[j]),
    lambda: new Float32Array(B).fill(lam),
  };
}
