// Filling frames without landmarks: linear interpolation between the nearest frames that have
// them, and padding (repeating the first / last found frame) at the two ends.
import type { Landmarks } from './landmarks.js';

export interface FillResult {
  landmarks: Landmarks[];
  /** indices of frames whose landmarks were interpolated or padded */
  filled: number[];
}

/** Fill the null frames of a landmark sequence. Throws when no frame has landmarks. */
export function fillLandmarkGaps(seq: (Landmarks | null)[]): FillResult {
  const known = seq.flatMap((l, i) => (l ? [i] : []));
  if (known.length === 0) throw new RangeError('no frame has landmarks');
  const out: Landmarks[] = new Array(seq.length);
  const filled: number[] = [];
  let k = 0; // index into known: known[k] is the next known frame ≥ t
  for (let t = 0; t < seq.length; t++) {
    while (k < known.length && known[k] < t) k++;
    const cur = seq[t];
    if (cur) {
      out[t] = cur.map((p) => [p[0], p[1]]);
      continue;
    }
    filled.push(t);
    const next = k < known.length ? known[k] : -1;
    const prev = k > 0 ? known[k - 1] : -1;
    if (prev < 0) out[t] = seq[next]!.map((p) => [p[0], p[1]]);
    else if (next < 0) out[t] = seq[prev]!.map((p) => [p[0], p[1]]);
    else {
      const w = (t - prev) / (next - prev);
      const a = seq[prev]!,
        b = seq[next]!;
      out[t] = a.map((p, i) => [p[0] + w * (b[i][0] - p[0]), p[1] + w * (b[i][1] - p[1])]);
    }
  }
  return { landmarks: out, filled };
}
