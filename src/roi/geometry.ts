// 2-D affine / similarity transforms on [x, y] points (pixel coordinates).
// An Affine [a, b, c, d, e, f] maps (x, y) to (a·x + b·y + c, d·x + e·y + f).
export type Point = [number, number];
export type Affine = [number, number, number, number, number, number];

export const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

/** m2 ∘ m1: first m1, then m2. */
export function composeAffine(m2: Affine, m1: Affine): Affine {
  return [
    m2[0] * m1[0] + m2[1] * m1[3],
    m2[0] * m1[1] + m2[1] * m1[4],
    m2[0] * m1[2] + m2[1] * m1[5] + m2[2],
    m2[3] * m1[0] + m2[4] * m1[3],
    m2[3] * m1[1] + m2[4] * m1[4],
    m2[3] * m1[2] + m2[4] * m1[5] + m2[5],
  ];
}

export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (!(Math.abs(det) > 1e-12)) throw new RangeError('affine transform is singular');
  const a = m[4] / det,
    b = -m[1] / det,
    d = -m[3] / det,
    e = m[0] / det;
  return [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])];
}

/** Similarity (uniform scale s, rotation θ radians, translation) as an Affine: x' = s·R(θ)·x + t. */
export function similarity(scale: number, theta: number, tx: number, ty: number): Affine {
  const c = scale * Math.cos(theta),
    s = scale * Math.sin(theta);
  return [c, -s, tx, s, c, ty];
}

/** Similarity about a centre point: rotate by θ and scale by s around `center`, then shift by (dx, dy). */
export function similarityAbout(
  center: Point,
  scale: number,
  theta: number,
  dx = 0,
  dy = 0,
): Affine {
  const m = similarity(scale, theta, 0, 0);
  const [cx, cy] = center;
  return [
    m[0],
    m[1],
    cx - (m[0] * cx + m[1] * cy) + dx,
    m[3],
    m[4],
    cy - (m[3] * cx + m[4] * cy) + dy,
  ];
}

/**
 * Least-squares similarity transform mapping src[i] to dst[i] (no reflection; the 2-D case of
 * Umeyama's method), optionally weighted. Needs ≥ 2 distinct points.
 */
export function fitSimilarity(src: Point[], dst: Point[], weights?: number[]): Affine {
  if (src.length !== dst.length || src.length < 2)
    throw new RangeError('fitSimilarity needs ≥ 2 point pairs of equal count');
  let W = 0,
    sx = 0,
    sy = 0,
    dx = 0,
    dy = 0;
  for (let i = 0; i < src.length; i++) {
    const w = weights ? weights[i] : 1;
    W += w;
    sx += w * src[i][0];
    sy += w * src[i][1];
    dx += w * dst[i][0];
    dy += w * dst[i][1];
  }
  sx /= W;
  sy /= W;
  dx /= W;
  dy /= W;
  let num1 = 0,
    num2 = 0,
    den = 0;
  for (let i = 0; i < src.length; i++) {
    const w = weights ? weights[i] : 1;
    const xs = src[i][0] - sx,
      ys = src[i][1] - sy,
      xd = dst[i][0] - dx,
      yd = dst[i][1] - dy;
    num1 += w * (xs * xd + ys * yd);
    num2 += w * (xs * yd - ys * xd);
    den += w * (xs * xs + ys * ys);
  }
  if (!(den > 1e-12)) throw new RangeError('fitSimilarity: source points coincide');
  const a = num1 / den,
    b = num2 / den;
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}

/** Uniform scale of a similarity (or the geometric-mean scale of an affine). */
export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/** Rotation angle (radians) of a similarity. */
export function affineAngle(m: Affine): number {
  return Math.atan2(m[3], m[0]);
}

export function mean(points: Point[]): Point {
  let x = 0,
    y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return [x / points.length, y / points.length];
}
