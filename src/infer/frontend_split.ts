// How the front-end's work is cut into parts for lanes (threads that each run a one-thread
// session, ./frontend_lanes.ts). The front-end maps (B, C, T, S, S) frames — one context frame on
// each side of every clip — to (B, T−2, d) features, one image per output frame: the temporal
// conv spans 3 frames, everything after it is per frame. So a clip's frames can be cut in time
// into ranges that overlap by 2 frames, and a batch into groups of whole clips; each part is an
// independent front-end run whose features land in their own rows of the output.

/** Clips [b0, b1) and input frames [t0, t1) (t1 − t0 ≥ 3) of a (B, C, T, S, S) batch. */
export interface FrontendPart {
  b0: number;
  b1: number;
  t0: number;
  t1: number;
}

/** At most `lanes` parts of about equal work: whole clips per part when the batch has at least
 *  as many clips as lanes, else each clip cut in time (never below one image per part). */
export function splitFrontend(batch: number, time: number, lanes: number): FrontendPart[] {
  const images = time - 2;
  if (lanes <= 1 || batch * images <= 1) return [{ b0: 0, b1: batch, t0: 0, t1: time }];
  const parts: FrontendPart[] = [];
  if (batch >= lanes) {
    for (let j = 0; j < lanes; j++) {
      const b0 = Math.floor((j * batch) / lanes);
      const b1 = Math.floor(((j + 1) * batch) / lanes);
      parts.push({ b0, b1, t0: 0, t1: time });
    }
    return parts;
  }
  const k = Math.min(images, Math.floor(lanes / batch)); // parts per clip
  for (let b = 0; b < batch; b++)
    for (let j = 0; j < k; j++) {
      const i0 = Math.floor((j * images) / k);
      const i1 = Math.floor(((j + 1) * images) / k);
      parts.push({ b0: b, b1: b + 1, t0: i0, t1: i1 + 2 });
    }
  return parts;
}

/** A part's frames, copied out of the (B, C, T, S, S) batch into their own (b, C, t, S, S) buffer. */
export function partFrames(
  frames: Float32Array,
  dims: readonly [number, number, number, number],
  p: FrontendPart,
): Float32Array {
  const [, C, T, S] = dims;
  const plane = S * S;
  const t = p.t1 - p.t0;
  const out = new Float32Array((p.b1 - p.b0) * C * t * plane);
  for (let b = p.b0; b < p.b1; b++)
    for (let c = 0; c < C; c++) {
      const src = ((b * C + c) * T + p.t0) * plane;
      out.set(frames.subarray(src, src + t * plane), ((b - p.b0) * C + c) * t * plane);
    }
  return out;
}

/** Put a part's features (b, t − 2, d) into their rows of the (B, T − 2, d) output. */
export function placeFeatures(
  out: Float32Array,
  time: number,
  d: number,
  p: FrontendPart,
  feats: Float32Array,
): void {
  const n = p.t1 - p.t0 - 2;
  for (let b = p.b0; b < p.b1; b++)
    out.set(
      feats.subarray((b - p.b0) * n * d, (b - p.b0 + 1) * n * d),
      (b * (time - 2) + p.t0) * d,
    );
}

/** Clips (B, C, T, S, S) with one zero frame added on each side in time → (B, C, T + 2, S, S):
 *  the front-end then sees what the full graph's zero padding shows its first conv. */
export function padTime(
  frames: Float32Array,
  dims: readonly [number, number, number, number],
): Float32Array {
  const [B, C, T, S] = dims;
  const plane = S * S;
  const out = new Float32Array(B * C * (T + 2) * plane);
  for (let bc = 0; bc < B * C; bc++)
    out.set(frames.subarray(bc * T * plane, (bc + 1) * T * plane), (bc * (T + 2) + 1) * plane);
  return out;
}
