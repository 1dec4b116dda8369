// Viseme sequence → per-frame mouth parameters: durations with speaking-rate variation,
// silence padding that centres the word in the clip, and coarticulation by dominance
// blending (each target's influence decays exponentially outside its own segment, so
// neighbours pull on each other and high-dominance closures still close).
import { PARAM_KEYS, REST, VISEMES, type MouthParams, type TimedViseme } from './visemes.js';
import type { Rng } from '../rng.js';

export interface Timing {
  /** word start/end in seconds from clip start */
  start: number;
  end: number;
  segments: { viseme: TimedViseme; start: number; end: number }[];
}

export interface TrajectoryOptions {
  frames: number;
  fps: number;
  /** speaking rate: > 1 faster (shorter segments) */
  rate: number;
  /** coarticulation time constant, seconds (default 0.025) */
  tau?: number;
  /** longest word, seconds: faster speech is forced beyond it (default 0.9·clip) */
  maxWord?: number;
}

/** Lay the visemes out in time with per-segment jitter; the word is centred in the clip. */
export function layoutWord(vis: TimedViseme[], o: TrajectoryOptions, rng: Rng): Timing {
  const clip = o.frames / o.fps;
  const lens = vis.map((t) => (t.viseme.duration * t.length * rng.uniform(0.85, 1.15)) / o.rate);
  let total = lens.reduce((a, b) => a + b, 0);
  const maxWord = o.maxWord ?? clip * 0.9;
  if (total > maxWord) {
    const k = maxWord / total;
    for (let i = 0; i < lens.length; i++) lens[i] *= k;
    total = maxWord;
  }
  // centred, with a little jitter (LRW words sit around the clip centre)
  const start = Math.max(0.02, (clip - total) / 2 + rng.uniform(-0.03, 0.03));
  const segments: Timing['segments'] = [];
  let t = start;
  vis.forEach((v, i) => {
    segments.push({ viseme: v, start: t, end: t + lens[i] });
    t += lens[i];
  });
  return { start, end: t, segments };
}

/** Blend targets at time t (seconds). */
export function paramsAt(timing: Timing, t: number, tau: number): MouthParams {
  const acc: Record<string, number> = {};
  for (const k of PARAM_KEYS) acc[k] = 0;
  let wsum = 0;
  const add = (target: MouthParams, dominance: number, s: number, e: number) => {
    const d = t < s ? s - t : t > e ? t - e : 0;
    const w = dominance * Math.exp(-d / tau);
    if (w < 1e-6) return;
    wsum += w;
    for (const k of PARAM_KEYS) acc[k] += w * target[k];
  };
  add(REST, VISEMES.sil.dominance, -10, timing.start);
  for (const seg of timing.segments)
    add(seg.viseme.viseme.target, seg.viseme.viseme.dominance, seg.start, seg.end);
  add(REST, VISEMES.sil.dominance, timing.end, 1e9);
  const out = {} as MouthParams;
  for (const k of PARAM_KEYS) out[k] = acc[k] / wsum;
  return out;
}

/** Per-frame parameters, each averaged over the frame's exposure (3 sub-samples ≈ motion blur). */
export function mouthTrajectory(timing: Timing, o: TrajectoryOptions): MouthParams[] {
  const tau = o.tau ?? 0.025;
  const out: MouthParams[] = [];
  for (let f = 0; f < o.frames; f++) {
    const acc = { ...REST };
    for (const k of PARAM_KEYS) acc[k] = 0;
    for (const dt of [-0.3, 0, 0.3]) {
      const p = paramsAt(timing, (f + 0.5 + dt) / o.fps, tau);
      for (const k of PARAM_KEYS) acc[k] += p[k] / 3;
    }
    out.push(acc);
  }
  return out;
}
