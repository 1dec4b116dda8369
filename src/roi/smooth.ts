// Temporal smoothing of per-frame landmarks: a centred triangular window (weights 1,2,…,h,…,2,1
// over `window` frames), renormalised where it runs past the clip ends. Removes landmark
// jitter without shifting the track in time.
import type { Landmarks } from './landmarks.js';

export function smoothLandmarks(seq: Landmarks[], window = 5): Landmarks[] {
  const h = Math.floor(Math.max(1, window) / 2);
  if (h === 0) return seq.map((l) => l.map((p) => [p[0], p[1]]));
  const T = seq.length;
  return seq.map((lm, t) => {
    const out = lm.map(() => [0, 0] as [number, number]);
    let wsum = 0;
    for (let u = Math.max(0, t - h); u <= Math.min(T - 1, t + h); u++) {
      const w = h + 1 - Math.abs(u - t);
      wsum += w;
      const src = seq[u];
      for (let i = 0; i < out.length; i++) {
        out[i][0] += w * src[i][0];
        out[i][1] += w * src[i][1];
      }
    }
    for (const p of out) {
      p[0] /= wsum;
      p[1] /= wsum;
    }
    return out;
  });
}
