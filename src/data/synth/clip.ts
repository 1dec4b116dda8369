// One synthetic LRW-style clip: word → visemes → per-frame mouth parameters → rendered,
// posed, lit, noisy, blurred RGB frames (29×256×256×3 at 25 fps by default).
import { Rng, mixSeed } from '../rng.js';
import { faceLandmarks, renderFrame, type Pose } from './render.js';
import type { Speaker } from './speaker.js';
import { layoutWord, mouthTrajectory, type Timing } from './trajectory.js';
import { phonemesToVisemes, pronounce, type MouthParams } from './visemes.js';

export interface SynthClipOptions {
  frames?: number;
  fps?: number;
  size?: number;
}

export interface SynthClip {
  /** T·H·W·3 uint8 */
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
  channels: 3;
  fps: number;
  /** word duration in seconds (the `.txt` Duration) */
  duration: number;
  timing: Timing;
  mouth: MouthParams[];
  /** ground-truth 68-point iBUG landmarks per frame ([x, y] pixels) */
  landmarks: number[][][];
  arpabet: string;
}

// Sensor noise: a fixed table of standard normals indexed by random bits (fast, deterministic).
const NOISE = (() => {
  const r = new Rng(0x4015e);
  const t = new Float32Array(65536);
  for (let i = 0; i < t.length; i++) t[i] = r.normal();
  return t;
})();

/** 3-tap [1 2 1]/4 separable blur, in place, `passes` times. */
let blurTmp = new Float32Array(0);
function blur(img: Float32Array, W: number, H: number, passes: number): void {
  if (blurTmp.length !== img.length) blurTmp = new Float32Array(img.length);
  const tmp = blurTmp;
  for (let p = 0; p < passes; p++) {
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) {
          const xl = x > 0 ? x - 1 : x,
            xr = x < W - 1 ? x + 1 : x;
          tmp[(y * W + x) * 3 + c] =
            0.25 * img[(y * W + xl) * 3 + c] +
            0.5 * img[(y * W + x) * 3 + c] +
            0.25 * img[(y * W + xr) * 3 + c];
        }
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) {
          const yu = y > 0 ? y - 1 : y,
            yd = y < H - 1 ? y + 1 : y;
          img[(y * W + x) * 3 + c] =
            0.25 * tmp[(yu * W + x) * 3 + c] +
            0.5 * tmp[(y * W + x) * 3 + c] +
            0.25 * tmp[(yd * W + x) * 3 + c];
        }
  }
}

/** Render a clip of `word` said by `speaker`; `seed` fixes every random choice. */
export async function synthClip(
  word: string,
  speaker: Speaker,
  seed: number,
  o: SynthClipOptions = {},
): Promise<SynthClip> {
  const frames = o.frames ?? 29,
    fps = o.fps ?? 25,
    size = o.size ?? 256;
  const rng = new Rng(mixSeed(seed, speaker.id));
  const { arpabet } = await pronounce(word);
  const vis = phonemesToVisemes(arpabet);
  const rate = speaker.rate * rng.uniform(0.85, 1.18);
  const timing = layoutWord(vis, { frames, fps, rate }, rng);
  const mouth = mouthTrajectory(timing, { frames, fps, rate });
  // clip-level pose jitter + smooth head motion
  const base: Pose = {
    dx: rng.uniform(-6, 6),
    dy: rng.uniform(-5, 5),
    scale: rng.uniform(0.93, 1.07),
    rot: (rng.uniform(-5, 5) * Math.PI) / 180,
  };
  const ph = [rng.uniform(0, 6.28), rng.uniform(0, 6.28), rng.uniform(0, 6.28)];
  const fr = [rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.2)];
  const blinkAt = rng.bool(0.4) ? rng.int(frames) : -10;
  const lightGain = speaker.brightness * rng.uniform(0.92, 1.08);
  const data = new Uint8Array(frames * size * size * 3);
  const img = new Float32Array(size * size * 3);
  const s = size / 256;
  const landmarks: number[][][] = [];
  for (let f = 0; f < frames; f++) {
    const t = f / fps;
    const mo = speaker.motion;
    const pose: Pose = {
      dx: (base.dx + mo * 2 * Math.sin(6.28 * fr[0] * t + ph[0])) * s,
      dy: (base.dy + mo * 1.5 * Math.sin(6.28 * fr[1] * t + ph[1]) + 0.8 * mouth[f].open) * s,
      scale: base.scale * s,
      rot: base.rot + (mo * 1.5 * Math.sin(6.28 * fr[2] * t + ph[2]) * Math.PI) / 180,
    };
    const blink = Math.max(0, 1 - Math.abs(f - blinkAt) / 1.5);
    renderFrame(speaker, pose, mouth[f], blink, img, size, size);
    landmarks.push(
      faceLandmarks(speaker, pose, mouth[f]).map(([x, y]) => [+x.toFixed(2), +y.toFixed(2)]),
    );
    if (speaker.blur) blur(img, size, size, speaker.blur);
    const off = f * size * size * 3;
    const c = speaker.contrast;
    const sigma = speaker.noise;
    let st = rng.u32() | 1; // xorshift32 for the per-pixel noise index (fast inner loop)
    for (let i = 0; i < img.length; i++) {
      st ^= st << 13;
      st ^= st >>> 17;
      st ^= st << 5;
      const v = ((img[i] - 128) * c + 128) * lightGain + sigma * NOISE[st & 0xffff];
      data[off + i] = v < 0 ? 0 : v > 255 ? 255 : (v + 0.5) | 0;
    }
  }
  return {
    data,
    frames,
    height: size,
    width: size,
    channels: 3,
    fps,
    duration: timing.end - timing.start,
    timing,
    mouth,
    landmarks,
    arpabet,
  };
}
