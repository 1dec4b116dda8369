// A small software rasteriser for synthetic talking faces: every pixel maps back into face
// coordinates (inverse head pose) and is composited from soft-edged implicit shapes —
// background, neck, hair, shaded face, brows, eyes, nose, lips with inner mouth, teeth and
// tongue, chin crease. Canonical geometry puts the mouth near row 163, col 127 like LRW.
import type { MouthParams } from './visemes.js';
import type { RGB, Speaker } from './speaker.js';

export interface Pose {
  /** translation of the face centre from (127.5, 128), pixels */
  dx: number;
  dy: number;
  scale: number;
  /** radians, positive = clockwise on screen */
  rot: number;
}

export const FACE_CENTRE = { x: 127.5, y: 128 } as const;

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

// current pixel colour (module-level to keep the inner loop allocation-free)
let r = 0,
  g = 0,
  b = 0;
function paint(c: RGB, k: number, alpha: number): void {
  if (alpha <= 0) return;
  r += (c[0] * k - r) * alpha;
  g += (c[1] * k - g) * alpha;
  b += (c[2] * k - b) * alpha;
}
const WHITE: RGB = [255, 255, 255],
  EYE_WHITE: RGB = [238, 236, 230],
  PUPIL: RGB = [10, 10, 12];
const MOUTH_INSIDE: RGB = [55, 20, 25];
const TEETH_UP: RGB = [232, 228, 214],
  TEETH_LO: RGB = [220, 215, 200],
  TONGUE: RGB = [205, 92, 100];

/** Lip geometry of a frame (pixels, canonical scale): opening, half-widths, lip thicknesses, jaw drop. */
export function mouthShape(sp: Speaker, m: MouthParams) {
  const a = sp.articulation;
  const O = clamp01(m.open * a) * sp.maxOpen;
  const round = clamp01(m.round * a);
  const tuck = clamp01(m.tuck);
  const Wm = sp.mouthW * (1 + (m.width - 1) * a);
  return {
    O,
    round,
    tuck,
    Wm,
    tu: sp.upperLip * (1 + 0.35 * round),
    tl: sp.lowerLip * (1 + 0.35 * round) * (1 - 0.3 * tuck),
    Wi: Wm * (0.9 - 0.3 * round),
    /** the jaw drops with opening: lower face and chin move down */
    jaw: O * 0.25,
  };
}

/** Lip contours at horizontal offset u (mouth coordinates, v down): outer and inner top/bottom. */
export function lipContours(
  g: ReturnType<typeof mouthShape>,
  u: number,
): { topOut: number; botOut: number; topIn: number; botIn: number } {
  const go = Math.sqrt(Math.max(0, 1 - (u / g.Wm) ** 2));
  const gi = Math.sqrt(Math.max(0, 1 - (u / g.Wi) ** 2));
  return {
    topOut: -(g.O * 0.35 + g.tu) * go + 1.3 * Math.exp(-((u / 3.5) ** 2)) * go,
    botOut: (g.O * 0.65 + g.tl) * Math.pow(go, 0.7),
    topIn: -g.O * 0.35 * gi - g.tuck * 1.5 * gi,
    botIn: g.O * 0.65 * gi,
  };
}

/** Face coordinates → frame pixels under a pose. */
export function faceToFrame(pose: Pose, qx: number, qy: number): [number, number] {
  const c = Math.cos(pose.rot) * pose.scale,
    s = Math.sin(pose.rot) * pose.scale;
  return [FACE_CENTRE.x + pose.dx + c * qx - s * qy, FACE_CENTRE.y + pose.dy + s * qx + c * qy];
}

/**
 * The 68 iBUG landmarks of a rendered frame ([x, y] pixels): jaw 0-16, brows 17-26, nose
 * 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67 — ground truth for ROI checks and
 * `prepare --crop landmarks` on synthetic data.
 */
export function faceLandmarks(sp: Speaker, pose: Pose, m: MouthParams): number[][] {
  const g = mouthShape(sp, m);
  const pts: [number, number][] = [];
  const faceHLow = sp.faceH + g.jaw;
  for (let k = 0; k <= 16; k++) {
    const a = Math.PI - (k * Math.PI) / 16;
    pts.push([sp.faceW * 0.97 * Math.cos(a), faceHLow * 0.97 * Math.sin(a)]);
  }
  for (const side of [-1, 1])
    for (let k = 0; k < 5; k++) {
      const bu = -1 + k * 0.5; // 17-21 image-left brow, 22-26 image-right, each left to right
      pts.push([side * sp.eyeX + bu * 13, sp.eyeY - 11 - 3.5 * (1 - bu * bu)]);
    }
  const noseY = sp.mouthY - 17;
  for (let k = 0; k < 4; k++) pts.push([0, sp.eyeY + 3 + (k * (noseY - 2 - sp.eyeY - 3)) / 3]);
  for (let k = 0; k < 5; k++) pts.push([-8 + 4 * k, noseY + (k === 2 ? 1 : 0.5)]);
  const eyeOpen = 5.5;
  for (const side of [-1, 1]) {
    const ex = side * sp.eyeX,
      ey = sp.eyeY;
    // corner, upper ×2, corner, lower ×2 (iBUG order runs clockwise from the outer/left corner)
    pts.push(
      [ex - 11, ey],
      [ex - 4, ey - eyeOpen],
      [ex + 4, ey - eyeOpen],
      [ex + 11, ey],
      [ex + 4, ey + eyeOpen],
      [ex - 4, ey + eyeOpen],
    );
  }
  const mv = sp.mouthY + g.jaw * 0.2;
  const outerU = [-1, -0.66, -0.33, 0, 0.33, 0.66, 1];
  for (const f of outerU) {
    const u = f * g.Wm * 0.999;
    pts.push([u, mv + lipContours(g, u).topOut]);
  } // 48-54
  for (const f of [0.66, 0.33, 0, -0.33, -0.66]) {
    const u = f * g.Wm;
    pts.push([u, mv + lipContours(g, u).botOut]);
  } // 55-59
  pts.push([-g.Wi, mv]); // 60
  for (const f of [-0.5, 0, 0.5]) {
    const u = f * g.Wi;
    pts.push([u, mv + lipContours(g, u).topIn]);
  } // 61-63
  pts.push([g.Wi, mv]); // 64
  for (const f of [0.5, 0, -0.5]) {
    const u = f * g.Wi;
    pts.push([u, mv + lipContours(g, u).botIn]);
  } // 65-67
  return pts.map(([qx, qy]) => faceToFrame(pose, qx, qy));
}

/** Render one RGB frame (H·W·3 float, 0..255) into `out`. */
export function renderFrame(
  sp: Speaker,
  pose: Pose,
  m: MouthParams,
  blink: number,
  out: Float32Array,
  W = 256,
  H = 256,
): void {
  const cos = Math.cos(-pose.rot) / pose.scale,
    sin = Math.sin(-pose.rot) / pose.scale;
  const cx = FACE_CENTRE.x + pose.dx,
    cy = FACE_CENTRE.y + pose.dy;
  const [lx, ly] = sp.light;
  const lnorm = Math.hypot(lx, ly, 1);
  const shape = mouthShape(sp, m);
  const { O, tuck, Wm, tu, tl, Wi, jaw } = shape;
  const teethUp = clamp01(m.teeth) * (2.5 + O * 0.35);
  const teethLo = clamp01(m.teeth) * Math.min(O * 0.18, 4);
  const tongueR = clamp01(m.tongue) * (O * 0.3 + 1.2);
  const mouthTop = -(O * 0.35 + tu) - 3,
    mouthBot = O * 0.65 + tl + 26;
  const [bg0, bg1] = sp.background;
  const skin = sp.skin,
    lip = sp.lip,
    hair = sp.hair;
  const eyeOpen = 5.5 * (1 - clamp01(blink));
  const faceHLow = sp.faceH + jaw;

  for (let y = 0; y < H; y++) {
    const fy = y / (H - 1);
    for (let x = 0; x < W; x++) {
      const rx = x - cx,
        ry = y - cy;
      const qx = cos * rx - sin * ry;
      const qy = sin * rx + cos * ry;
      // 1. background gradient
      r = bg0[0] + (bg1[0] - bg0[0]) * fy;
      g = bg0[1] + (bg1[1] - bg0[1]) * fy;
      b = bg0[2] + (bg1[2] - bg0[2]) * fy;
      // 2. neck
      if (qy > 0)
        paint(
          skin,
          0.72,
          clamp01(Math.min(sp.faceW * 0.55 - Math.abs(qx), qy - sp.faceH * 0.4) + 0.5),
        );
      // 3. hair behind the head
      {
        const ex = qx / (sp.faceW * 1.12),
          ey = (qy + 12) / (sp.faceH * 1.04);
        const d = (Math.sqrt(ex * ex + ey * ey) - 1) * sp.faceW;
        if (qy < 10) paint(hair, 1, clamp01(0.5 - d));
      }
      // 4. face with sphere-like shading
      const fhh = qy > 0 ? faceHLow : sp.faceH;
      const nx = qx / sp.faceW,
        ny = qy / fhh;
      const e2 = nx * nx + ny * ny;
      const faceCov = clamp01(0.5 - (Math.sqrt(e2) - 1) * sp.faceW);
      if (faceCov <= 0) {
        out[(y * W + x) * 3] = r;
        out[(y * W + x) * 3 + 1] = g;
        out[(y * W + x) * 3 + 2] = b;
        continue;
      }
      const nz = Math.sqrt(Math.max(0, 1 - e2));
      const shade = 0.5 + 0.62 * Math.max(0, (nx * lx + ny * ly + nz) / lnorm);
      paint(skin, shade, faceCov);
      // 5. hair on the forehead
      {
        const line = sp.hairline + 7 * Math.sin(qx / 11 + sp.id) + Math.abs(qx) * 0.25;
        paint(hair, 0.9 + 0.1 * shade, clamp01(line - qy + 0.5) * faceCov);
      }
      // 6-7. brows and eyes
      for (let side = -1; side <= 1; side += 2) {
        const ex = qx - side * sp.eyeX;
        if (Math.abs(ex) > 18 || qy < sp.eyeY - 22 || qy > sp.eyeY + 10) continue;
        const bu = ex / 15;
        const browY = sp.eyeY - 11 - 3.5 * (1 - bu * bu);
        paint(hair, 0.8, clamp01(Math.min(2.3 - Math.abs(qy - browY), 15 - Math.abs(ex)) + 0.5));
        const ey = qy - sp.eyeY;
        const eyeD =
          (Math.sqrt((ex / 11) ** 2 + (ey / Math.max(0.3, eyeOpen)) ** 2) - 1) *
          Math.max(0.3, eyeOpen);
        const eyeCov = clamp01(0.5 - eyeD);
        if (eyeCov > 0) {
          paint(EYE_WHITE, 0.6 + 0.4 * shade, eyeCov);
          const ir = Math.hypot(ex, ey + 0.5);
          paint(sp.iris, 1, clamp01(4.8 - ir + 0.5) * eyeCov);
          paint(PUPIL, 1, clamp01(2.2 - ir + 0.5) * eyeCov);
        }
        // eyelid outline
        paint(skin, 0.45, clamp01(1.2 - Math.abs(eyeD)) * 0.7);
      }
      // 8. nose: side shadow, nostrils, tip highlight
      {
        const noseY = sp.mouthY - 17;
        if (qy > sp.eyeY + 2 && qy < noseY + 5 && Math.abs(qx) < 14) {
          const sx = qx + lx * 7;
          paint(
            skin,
            0.78,
            clamp01(2.5 - Math.abs(sx - 5 * Math.sign(lx || 1))) *
              clamp01((qy - sp.eyeY) / 10) *
              0.6,
          );
          for (let side = -1; side <= 1; side += 2) {
            const dx = (qx - side * 6.5) / 3.6,
              dy = (qy - noseY) / 2.1;
            paint(skin, 0.4, clamp01((1 - Math.sqrt(dx * dx + dy * dy)) * 2.5));
          }
          paint(WHITE, 1, clamp01(1 - Math.hypot(qx / 4, (qy - noseY + 5) / 3)) * 0.18);
        }
      }
      // 9-11. mouth (u, v): mouth coordinates
      const u = qx,
        v = qy - sp.mouthY - jaw * 0.2;
      if (Math.abs(u) < Wm + 14 && v > mouthTop && v < mouthBot) {
        const au = Math.abs(u);
        const go = Math.sqrt(Math.max(0, 1 - (u / Wm) ** 2));
        const gi = Math.sqrt(Math.max(0, 1 - (u / Wi) ** 2));
        const { topOut, botOut, topIn, botIn } = lipContours(shape, u);
        // chin crease below the lower lip, moves with the jaw
        const crease = botOut + 9 + O * 0.15;
        paint(
          skin,
          0.72,
          clamp01(1.6 - Math.abs(v - crease)) * clamp01(1 - au / (Wm * 0.8)) * 0.8 * faceCov,
        );
        // philtrum / upper-lip shadow
        paint(skin, 0.85, clamp01(2 - Math.abs(v - (topOut - 2.5))) * go * 0.5 * faceCov);
        const lipCov = clamp01(Math.min(v - topOut, botOut - v, Wm - au) + 0.5);
        if (lipCov > 0) {
          const upper = v < 0;
          let k = upper ? 0.78 : 1.0;
          if (!upper)
            k += 0.18 * Math.exp(-(((v - (botIn + tl * 0.45)) / (tl * 0.3 + 0.5)) ** 2)) * go;
          k *= 0.75 + 0.35 * shade;
          paint(lip, k, lipCov);
          // dark line where closed lips meet
          const seam = Math.exp(-((v / 0.9) ** 2)) * clamp01(1 - O / 2.5) * go;
          paint(lip, 0.35, seam * lipCov);
          const innerCov =
            O > 0.2 || tuck > 0.3 ? clamp01(Math.min(v - topIn, botIn - v, Wi - au) + 0.5) : 0;
          if (innerCov > 0) {
            paint(MOUTH_INSIDE, 1 - 0.5 * gi, innerCov);
            // upper teeth hang from the upper inner edge, lower teeth rise from the lower edge
            if (teethUp > 0)
              paint(
                TEETH_UP,
                0.85 + 0.15 * gi,
                clamp01(topIn + teethUp - v + 0.5) * innerCov * clamp01(teethUp),
              );
            if (teethLo > 0)
              paint(
                TEETH_LO,
                0.8,
                clamp01(v - (botIn - teethLo) + 0.5) * innerCov * clamp01(teethLo),
              );
            if (tongueR > 0) {
              const tcv = (topIn + botIn) / 2 + (1 - clamp01(m.tongue)) * O * 0.25;
              const td = Math.hypot(u / (Wi * 0.55 + 0.5), (v - tcv) / tongueR);
              paint(TONGUE, 0.9, clamp01((1 - td) * 3) * innerCov);
            }
          }
        }
      }
      out[(y * W + x) * 3] = r;
      out[(y * W + x) * 3 + 1] = g;
      out[(y * W + x) * 3 + 2] = b;
    }
  }
}
