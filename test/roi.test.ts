// ROI building blocks on exact numbers: similarity fitting, affine warps, gap filling,
// smoothing, main-face choice, ROI geometry (no face models needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyAffine,
  fitSimilarity,
  invertAffine,
  composeAffine,
  similarityAbout,
  affineScale,
  affineAngle,
  type Point,
} from '../src/roi/geometry.js';
import { toGray, warpAffine } from '../src/roi/image.js';
import { cropSignature, signatureChange } from '../src/roi/detector.js';
import { fillLandmarkGaps } from '../src/roi/interpolate.js';
import { smoothLandmarks } from '../src/roi/smooth.js';
import { CROP_CHANGE, pickMainFace } from '../src/roi/track.js';
import { REFERENCE_FACE } from '../src/roi/template.js';
import { cutMouthRois, mouthRoiTransform } from '../src/roi/mouth_roi.js';
import { mouthCenter, type Landmarks } from '../src/roi/landmarks.js';
import { RoiError } from '../src/roi/errors.js';
import type { LandmarksFile } from '../src/roi/landmarks_file.js';

const close = (a: number, b: number, tol: number, msg?: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} ${a} vs ${b} (tol ${tol})`);

test('fitSimilarity recovers a known similarity from noisy points', () => {
  const m = similarityAbout([50, 60], 1.7, 0.4, 12, -7);
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.02;
  const src: Point[] = Array.from({ length: 20 }, (_, i) => [(i * 37) % 100, (i * 53) % 90]);
  const dst = src.map((p) => {
    const q = applyAffine(m, p);
    return [q[0] + rnd(), q[1] + rnd()] as Point;
  });
  const f = fitSimilarity(src, dst);
  close(affineScale(f), 1.7, 1e-3, 'scale');
  close(affineAngle(f), 0.4, 1e-3, 'angle');
  const id = composeAffine(invertAffine(f), m);
  [1, 0, 0, 0, 1, 0].forEach((v, i) => close(id[i], v, 0.02, `identity[${i}]`));
});

test('warpAffine: integer shift is exact; outside fraction is measured', () => {
  const W = 8,
    H = 6;
  const src = {
    data: Uint8Array.from({ length: W * H }, (_, i) => i * 3),
    width: W,
    height: H,
    channels: 1 as const,
  };
  const r = warpAffine(src, [1, 0, 2, 0, 1, 1], 4, 3);
  for (let v = 0; v < 3; v++)
    for (let u = 0; u < 4; u++) assert.equal(r.data[v * 4 + u], ((v + 1) * W + (u + 2)) * 3);
  assert.equal(r.outside, 0);
  const half = warpAffine(src, [1, 0, 4, 0, 1, 0], 8, 6); // right half falls off the frame
  close(half.outside, 0.5, 1e-9);
});

function face(dx: number, dy: number): Landmarks {
  // a face-like 68-point layout scaled from the reference anchors, shifted
  const pts: Landmarks = Array.from({ length: 68 }, (_, i) => [
    100 + (i % 10) * 3 + dx,
    100 + Math.floor(i / 10) * 4 + dy,
  ]);
  const put = (idx: number[], p: Point) =>
    idx.forEach((i, k) => (pts[i] = [p[0] + dx + (k % 3) - 1, p[1] + dy + (k % 2)]));
  put([36, 37, 38, 39, 40, 41], REFERENCE_FACE.leftEye);
  put([42, 43, 44, 45, 46, 47], REFERENCE_FACE.rightEye);
  pts[30] = [REFERENCE_FACE.noseTip[0] + dx, REFERENCE_FACE.noseTip[1] + dy];
  for (let i = 48; i < 68; i++)
    pts[i] = [
      REFERENCE_FACE.mouthLeft[0] + ((i - 48) % 12) * 5 + dx,
      REFERENCE_FACE.mouthLeft[1] + (i < 60 ? 0 : 3) + dy,
    ];
  pts[48] = [REFERENCE_FACE.mouthLeft[0] + dx, REFERENCE_FACE.mouthLeft[1] + dy];
  pts[54] = [REFERENCE_FACE.mouthRight[0] + dx, REFERENCE_FACE.mouthRight[1] + dy];
  return pts;
}

test('warpAffine gray on an RGB frame equals warping its grey frame, byte for byte (edges and outside fraction too)', () => {
  const W = 37,
    H = 23;
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 97 + (i >> 3) * 13) & 255;
  const rgb = { data, width: W, height: H, channels: 3 as const };
  for (const m of [
    [0.7, -0.3, 5.2, 0.3, 0.7, -4.1],
    [1.3, 0.2, -8, -0.2, 1.3, 10.5],
  ] as [number, number, number, number, number, number][]) {
    const a = warpAffine(rgb, m, 19, 17, undefined, true);
    const b = warpAffine(toGray(rgb), m, 19, 17);
    assert.equal(a.channels, 1);
    assert.deepEqual(a.data, b.data);
    assert.equal(a.outside, b.outside);
    assert.ok(a.outside > 0, 'the transforms reach outside the frame');
  }
});

test('crop signature: a small move of the same face changes it little; a blank or another picture a lot', () => {
  const S = 112;
  const face = (shift: number) => {
    const d = new Uint8Array(S * S * 3);
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const r = Math.hypot(x - 56 - shift, y - 56);
        const v = r < 40 ? (r < 12 ? 60 : 200) : 90 + ((x + y) % 7);
        d.set([v, v * 0.8, v * 0.6], 3 * (y * S + x));
      }
    return d;
  };
  const a = cropSignature(face(0), S);
  const moved = signatureChange(cropSignature(face(1), S), a);
  const brighter = signatureChange(
    cropSignature(
      face(0).map((v) => Math.min(255, v + 20)),
      S,
    ),
    a,
  );
  const blank = signatureChange(cropSignature(new Uint8Array(S * S * 3).fill(128), S), a);
  const other = signatureChange(cropSignature(face(30), S), a);
  assert.ok(moved < CROP_CHANGE && brighter < CROP_CHANGE, `same face: ${moved}, ${brighter}`);
  assert.ok(blank > CROP_CHANGE && other > CROP_CHANGE, `blank ${blank}, another picture ${other}`);
});

test('fillLandmarkGaps interpolates linearly inside and pads the ends', () => {
  const seq = [null, face(0, 0), null, null, face(9, -6), null];
  const { landmarks, filled } = fillLandmarkGaps(seq);
  assert.deepEqual(filled, [0, 2, 3, 5]);
  assert.deepEqual(landmarks[0], face(0, 0));
  close(landmarks[2][30][0], face(3, -2)[30][0], 1e-9);
  close(landmarks[3][30][1], face(6, -4)[30][1], 1e-9);
  assert.deepEqual(landmarks[5], face(9, -6));
  assert.throws(() => fillLandmarkGaps([null, null]), /no frame has landmarks/);
});

test('smoothLandmarks keeps linear motion, damps jitter', () => {
  const lin = Array.from({ length: 9 }, (_, t) => face(2 * t, 0));
  const s = smoothLandmarks(lin, 5);
  close(s[4][30][0], lin[4][30][0], 1e-9, 'centre frame of a linear track');
  const jit = Array.from({ length: 9 }, (_, t) => face(t % 2 ? 3 : -3, 0));
  const sj = smoothLandmarks(jit, 5);
  assert.ok(Math.abs(sj[4][30][0] - 128) < 1.2, `jitter damped: ${sj[4][30][0]}`);
});

test('pickMainFace: largest/central first, then the tracked one', () => {
  const big = { x: 100, y: 80, width: 120, height: 120, score: 0.7 };
  const small = { x: 10, y: 10, width: 40, height: 40, score: 0.99 };
  assert.equal(pickMainFace([small, big], 320, 240, null), big);
  assert.equal(
    pickMainFace([small, big], 320, 240, { x: 12, y: 8, width: 42, height: 40, score: 0 }),
    small,
  );
});

test('mouth ROI centres on the mouth; edge clamping and the edge error', () => {
  const lm = face(0, 0);
  const m = mouthRoiTransform(lm, 96);
  const c = applyAffine(m, [47.5, 47.5]);
  const mc = mouthCenter(lm);
  close(c[0], mc[0], 1e-6);
  close(c[1], mc[1], 1e-6);
  const video = {
    data: new Uint8Array(2 * 300 * 300).fill(77),
    frames: 2,
    width: 300,
    height: 300,
    channels: 1 as const,
    fps: 25,
  };
  const r = cutMouthRois(video, [lm, face(0, 80)], { gray: true });
  assert.equal(r.data.length, 2 * 96 * 96);
  assert.ok(r.data.every((v) => v === 77));
  assert.ok(r.outside[1] > 0 && r.outside[1] <= 0.25, `clamped frame outside=${r.outside[1]}`);
  assert.throws(
    () => cutMouthRois(video, [lm, face(0, 120)]),
    (e: unknown) =>
      e instanceof RoiError && e.kind === 'edge' && /too close to the frame edge/.test(e.message),
  );
});

test("align 'eyes' reproduces data/crop.ts landmarkMouthCrop (prepare --crop landmarks) pixel for pixel", async () => {
  const { landmarkMouthCrop } = await import('../src/data/crop.js');
  const W = 320,
    H = 300;
  const data = new Uint8Array(2 * W * H);
  for (let t = 0; t < 2; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        data[(t * H + y) * W + x] = Math.round(
          127 + 60 * Math.sin(x / 7 + t) + 60 * Math.cos(y / 5),
        );
  const video = { data, frames: 2, width: W, height: H, channels: 1 as const, fps: 25 };
  // tilted and scaled faces, well inside the frame
  const tilt = (lm: Landmarks, deg: number, s: number): Landmarks => {
    const a = (deg * Math.PI) / 180,
      c: Point = [128, 150];
    return lm.map(([x, y]) => [
      c[0] + s * (Math.cos(a) * (x - c[0]) - Math.sin(a) * (y - c[1])) + 20,
      c[1] + s * (Math.sin(a) * (x - c[0]) + Math.cos(a) * (y - c[1])),
    ]);
  };
  const lms = [tilt(face(0, 0), 12, 1.1), tilt(face(0, 0), -20, 0.8)];
  const mine = cutMouthRois(video, lms, { align: 'eyes' });
  const theirs = landmarkMouthCrop(video, lms, { smooth: 1 });
  let maxDiff = 0;
  for (let i = 0; i < mine.data.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs(mine.data[i] - theirs.data[i]));
  assert.ok(maxDiff <= 1, `max |diff| ${maxDiff}`);
  // and the default reference alignment differs on a tilted face (it also uses nose and mouth)
  const ref = cutMouthRois(video, lms);
  assert.notDeepEqual(ref.data, mine.data);
});

test('landmark cache: keyed by content hash and tracker settings; in the per-user cache dir, never beside the clip', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const {
    landmarkCachePath,
    readCache,
    writeLandmarksFile,
    readLandmarksFile,
    sha256File,
    LANDMARKS_FORMAT,
  } = await import('../src/roi/landmarks_file.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eflip-roi-cache-'));
  const saved = {
    EFLIP_CACHE_DIR: process.env.EFLIP_CACHE_DIR,
    XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
  };
  try {
    const clip = path.join(dir, 'ABOUT_00001.mp4');
    writeFileSync(clip, 'not really a video, only hashed');
    const sha = await sha256File(clip);
    delete process.env.EFLIP_CACHE_DIR;
    process.env.XDG_CACHE_HOME = path.join(dir, 'xdg');
    assert.equal(
      landmarkCachePath(sha),
      path.join(dir, 'xdg', 'eflip', 'landmarks', `${sha}.json`),
    );
    process.env.EFLIP_CACHE_DIR = path.join(dir, 'cache');
    const cachePathFor = (_clip: string) => landmarkCachePath(sha);
    assert.equal(cachePathFor(clip), path.join(dir, 'cache', 'landmarks', `${sha}.json`));
    const tracker = { detector: 'auto', landmarks: 'full', every: 5, verify: true, fps: null };
    const rec: LandmarksFile = {
      format: LANDMARKS_FORMAT,
      video: 'ABOUT_00001.mp4',
      sha256: sha,
      width: 256,
      height: 256,
      fps: 25,
      frames: 2,
      tracker,
      maxFaces: 1,
      detections: 1,
      tracked: 1,
      sources: ['detect', 'track'],
      boxes: [null, null],
      raw: [face(0, 0), face(1, 0)],
      filled: [],
      smooth: 5,
      landmarks: [face(0, 0), face(1, 0)],
    };
    await writeLandmarksFile(cachePathFor(clip), rec);
    assert.deepEqual((await readLandmarksFile(cachePathFor(clip))).landmarks, rec.landmarks);
    assert.ok(await readCache(cachePathFor(clip), sha, tracker));
    assert.equal(
      await readCache(cachePathFor(clip), sha, { ...tracker, every: 1 }),
      null,
      'other tracker settings',
    );
    assert.equal(
      await readCache(cachePathFor(clip), 'f'.repeat(64), tracker),
      null,
      'other content',
    );
    writeFileSync(cachePathFor(clip), JSON.stringify([rec.landmarks]));
    assert.equal(
      await readCache(cachePathFor(clip), sha, tracker),
      null,
      'a foreign landmarks file is no cache hit',
    );
    await assert.rejects(
      readLandmarksFile(cachePathFor(clip)),
      (e: unknown) => e instanceof RoiError && e.kind === 'bad-landmarks',
    );
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    rmSync(dir, { recursive: true, force: true });
  }
});
