// A tiny raster plotter for the run report: RGB canvas, lines, a 3×5 pixel font, line plots
// with axes and ticks, and a confusion-matrix heat map. Output goes through png.ts.
import { encodePng } from '../io/png.js';

export type RGB = [number, number, number];

// 3×5 glyphs, one 3-bit row per entry (MSB = left pixel)
const FONT: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '-': [0, 0, 7, 0, 0],
  '+': [0, 2, 7, 2, 0],
  '%': [5, 1, 2, 4, 5],
  ' ': [0, 0, 0, 0, 0],
  _: [0, 0, 0, 0, 7],
  '(': [2, 4, 4, 4, 2],
  ')': [2, 1, 1, 1, 2],
  '/': [1, 1, 2, 4, 4],
  ':': [0, 2, 0, 2, 0],
  '=': [0, 7, 0, 7, 0],
  a: [2, 5, 7, 5, 5],
  b: [6, 5, 6, 5, 6],
  c: [3, 4, 4, 4, 3],
  d: [6, 5, 5, 5, 6],
  e: [7, 4, 6, 4, 7],
  f: [7, 4, 6, 4, 4],
  g: [3, 4, 5, 5, 3],
  h: [5, 5, 7, 5, 5],
  i: [7, 2, 2, 2, 7],
  j: [1, 1, 1, 5, 2],
  k: [5, 5, 6, 5, 5],
  l: [4, 4, 4, 4, 7],
  m: [5, 7, 7, 5, 5],
  n: [6, 5, 5, 5, 5],
  o: [2, 5, 5, 5, 2],
  p: [6, 5, 6, 4, 4],
  q: [2, 5, 5, 6, 3],
  r: [6, 5, 6, 5, 5],
  s: [3, 4, 2, 1, 6],
  t: [7, 2, 2, 2, 2],
  u: [5, 5, 5, 5, 7],
  v: [5, 5, 5, 5, 2],
  w: [5, 5, 7, 7, 5],
  x: [5, 5, 2, 5, 5],
  y: [5, 5, 2, 2, 2],
  z: [7, 1, 2, 4, 7],
};

export class Canvas {
  readonly px: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    bg: RGB = [255, 255, 255],
  ) {
    this.px = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.px.set(bg, i * 3);
  }
  set(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.px.set(c, (y * this.width + x) * 3);
  }
  rect(x: number, y: number, w: number, h: number, c: RGB): void {
    for (let j = Math.max(0, Math.floor(y)); j < Math.min(this.height, Math.floor(y + h)); j++) {
      for (let i = Math.max(0, Math.floor(x)); i < Math.min(this.width, Math.floor(x + w)); i++)
        this.px.set(c, (j * this.width + i) * 3);
    }
  }
  /** Line of `thick` pixels (sampled along its length). */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thick = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * 2));
    const r = (thick - 1) / 2;
    for (let k = 0; k <= n; k++) {
      const x = x0 + ((x1 - x0) * k) / n;
      const y = y0 + ((y1 - y0) * k) / n;
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) this.set(x + dx, y + dy, c);
    }
  }
  /** Text in the 3×5 font at `scale`; returns the width drawn. */
  text(x: number, y: number, s: string, c: RGB = [0, 0, 0], scale = 2): number {
    let cx = x;
    for (const ch of s.toLowerCase()) {
      const g = FONT[ch] ?? FONT[' '];
      for (let row = 0; row < 5; row++) {
        for (let col = 0; col < 3; col++)
          if (g[row] & (4 >> col)) this.rect(cx + col * scale, y + row * scale, scale, scale, c);
      }
      cx += 4 * scale;
    }
    return cx - x;
  }
  static textWidth(s: string, scale = 2): number {
    return s.length * 4 * scale;
  }
  png(): Buffer {
    return encodePng(this.px, this.width, this.height, 3);
  }
}

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) {
    hi = lo + 1;
    lo = lo - 1;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

export interface Series {
  name: string;
  color: RGB;
  points: [number, number][];
}

export const PALETTE: RGB[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
];

/** A line plot with axes, ticks, axis labels, a legend and a title. */
export function linePlot(
  series: Series[],
  opts: {
    title?: string;
    xLabel?: string;
    yLabel?: string;
    width?: number;
    height?: number;
    logY?: boolean;
  } = {},
): Canvas {
  const W = opts.width ?? 640;
  const H = opts.height ?? 400;
  const cv = new Canvas(W, H);
  const L = 70,
    R = 20,
    T = 40,
    B = 50;
  const pts = series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0));
  const fy = (y: number) => (opts.logY ? Math.log10(y) : y);
  let x0 = Math.min(...pts.map((p) => p[0])),
    x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => fy(p[1]))),
    y1 = Math.max(...pts.map((p) => fy(p[1])));
  if (!pts.length) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (x1 === x0) {
    x1 = x0 + 1;
  }
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => H - B - ((fy(y) - y0) / (y1 - y0)) * (H - T - B);
  const grid: RGB = [225, 225, 225];
  const axis: RGB = [60, 60, 60];
  for (const t of niceTicks(x0, x1)) {
    const x = px(t);
    cv.line(x, T, x, H - B, grid);
    const s = tickLabel(t);
    cv.text(x - Canvas.textWidth(s) / 2, H - B + 8, s, axis);
  }
  for (const t of niceTicks(y0, y1)) {
    const y = H - B - ((t - y0) / (y1 - y0)) * (H - T - B);
    cv.line(L, y, W - R, y, grid);
    const s = opts.logY ? tickLabel(10 ** t) : tickLabel(t);
    cv.text(L - 6 - Canvas.textWidth(s), y - 5, s, axis);
  }
  cv.line(L, T, L, H - B, axis);
  cv.line(L, H - B, W - R, H - B, axis);
  for (const s of series) {
    let prev: [number, number] | null = null;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y) || (opts.logY && y <= 0)) {
        prev = null;
        continue;
      }
      const q: [number, number] = [px(x), py(y)];
      if (prev) cv.line(prev[0], prev[1], q[0], q[1], s.color, 2);
      else cv.rect(q[0] - 1, q[1] - 1, 3, 3, s.color);
      prev = q;
    }
  }
  if (opts.title) cv.text(L, 6, opts.title, [0, 0, 0], 3);
  if (opts.xLabel)
    cv.text((L + W - R) / 2 - Canvas.textWidth(opts.xLabel) / 2, H - 20, opts.xLabel, axis);
  if (opts.yLabel) cv.text(6, T - 12, opts.yLabel, axis);
  let lx = W - R - 8;
  for (const s of [...series].reverse()) {
    const w = Canvas.textWidth(s.name);
    lx -= w;
    cv.text(lx, 16, s.name, s.color);
    cv.rect(lx - 14, 19, 10, 4, s.color);
    lx -= 26;
  }
  return cv;
}

/** Confusion matrix heat map (row = truth, col = prediction), rows normalised; labels drawn when few classes. */
export function confusionPlot(
  confusion: number[][],
  labels: string[],
  title = 'confusion (row-normalised)',
): Canvas {
  const C = confusion.length;
  const showLabels = C <= 40;
  const cell = Math.max(1, Math.min(24, Math.floor(560 / Math.max(1, C))));
  const lab = showLabels ? Math.max(...labels.map((l) => Canvas.textWidth(l))) + 10 : 10;
  const top = 40 + (showLabels ? Math.max(...labels.map((l) => l.length)) * 12 + 6 : 0);
  const W = lab + C * cell + 20;
  const H = top + C * cell + 20;
  const cv = new Canvas(W, H);
  cv.text(10, 10, title, [0, 0, 0], 2);
  for (let i = 0; i < C; i++) {
    const tot = confusion[i].reduce((a, b) => a + b, 0);
    for (let j = 0; j < C; j++) {
      const v = tot > 0 ? confusion[i][j] / tot : 0;
      // white → dark blue; the diagonal in green tones so errors stand out
      const c: RGB =
        i === j
          ? [Math.round(255 - 215 * v), Math.round(255 - 95 * v), Math.round(255 - 215 * v)]
          : [Math.round(255 - 200 * v), Math.round(255 - 180 * v), Math.round(255 - 60 * v)];
      cv.rect(lab + j * cell, top + i * cell, cell, cell, c);
    }
  }
  if (showLabels) {
    for (let i = 0; i < C; i++) {
      cv.text(
        lab - 6 - Canvas.textWidth(labels[i]),
        top + i * cell + (cell - 10) / 2,
        labels[i],
        [40, 40, 40],
      );
      // column labels, written vertically character by character
      const s = labels[i];
      for (let k = 0; k < s.length; k++)
        cv.text(lab + i * cell + (cell - 6) / 2, 40 + k * 12, s[k], [40, 40, 40]);
    }
  }
  return cv;
}
