// 68-point facial landmarks in the iBUG-300W order: jaw 0-16, brows 17-26, nose 27-35
// (tip 30), eyes 36-41 / 42-47 (image-left / image-right), outer lips 48-59 (corners 48, 54),
// inner lips 60-67. One frame = 68 [x, y] pixel coordinates.
import { type Point, mean } from './geometry.js';

export type Landmarks = Point[];

export const N_LANDMARKS = 68;
export const JAW = range(0, 17);
export const LEFT_EYE = range(36, 42); // image-left (the subject's right eye)
export const RIGHT_EYE = range(42, 48);
export const NOSE_TIP = 30;
export const MOUTH = range(48, 68);
export const MOUTH_CORNERS = [48, 54];

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

export function pick(lm: Landmarks, idx: number[]): Point[] {
  return idx.map((i) => lm[i]);
}

export function mouthCenter(lm: Landmarks): Point {
  return mean(pick(lm, MOUTH));
}

export function eyeCenters(lm: Landmarks): [Point, Point] {
  return [mean(pick(lm, LEFT_EYE)), mean(pick(lm, RIGHT_EYE))];
}

/** In-plane rotation (radians) of the face: the angle of the line from the left to the right eye. */
export function rollAngle(lm: Landmarks): number {
  const [l, r] = eyeCenters(lm);
  return Math.atan2(r[1] - l[1], r[0] - l[0]);
}

/** Rotation-invariant size: root-mean-square distance of the 68 points from their centroid. */
export function shapeSize(lm: Landmarks): number {
  const c = mean(lm);
  let s = 0;
  for (const p of lm) s += (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2;
  return Math.sqrt(s / lm.length);
}

export function boundingBox(lm: Landmarks): {
  x: number;
  y: number;
  width: number;
  height: number;
} {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const [x, y] of lm) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export function isLandmarks(v: unknown): v is Landmarks {
  return (
    Array.isArray(v) &&
    v.length === N_LANDMARKS &&
    v.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite))
  );
}
