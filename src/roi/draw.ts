// Minimal raster drawing on RGB frames (in place): lines, rectangles, polygons, dots.
import type { Point } from './geometry.js';
import type { Frame } from './image.js';

export type Rgb = [number, number, number];

function plot(f: Frame, x: number, y: number, c: Rgb, r: number): void {
  const x0 = Math.round(x) - (r >> 1),
    y0 = Math.round(y) - (r >> 1);
  for (let yy = y0; yy < y0 + r; yy++) {
    if (yy < 0 || yy >= f.height) continue;
    for (let xx = x0; xx < x0 + r; xx++) {
      if (xx < 0 || xx >= f.width) continue;
      const i = (yy * f.width + xx) * 3;
      f.data[i] = c[0];
      f.data[i + 1] = c[1];
      f.data[i + 2] = c[2];
    }
  }
}

export function drawLine(f: Frame, a: Point, b: Point, c: Rgb, thickness = 2): void {
  const n = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1])));
  for (let i = 0; i <= n; i++)
    plot(f, a[0] + ((b[0] - a[0]) * i) / n, a[1] + ((b[1] - a[1]) * i) / n, c, thickness);
}

export function drawPolygon(f: Frame, pts: Point[], c: Rgb, thickness = 2): void {
  for (let i = 0; i < pts.length; i++) drawLine(f, pts[i], pts[(i + 1) % pts.length], c, thickness);
}

export function drawRect(
  f: Frame,
  x: number,
  y: number,
  w: number,
  h: number,
  c: Rgb,
  thickness = 2,
): void {
  drawPolygon(
    f,
    [
      [x, y],
      [x + w, y],
      [x + w, y + h],
      [x, y + h],
    ],
    c,
    thickness,
  );
}

export function drawDot(f: Frame, p: Point, c: Rgb, size = 3): void {
  plot(f, p[0], p[1], c, size);
}
