// The ROI pipeline on real pixels: a real photograph (test/fixtures/roi/messi5.jpg, from
// Debian's opencv-doc) turned into mp4 videos with known shifts, scales, rotations and blank
// frames; real face models, real ffmpeg. The mouth track must follow the applied transform
// within a few pixels, gaps must be filled, edge cases must fail as documented.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeVideo, probeVideo } from '../src/data/video.js';
import { encodeVideo } from '../src/data/video_writer.js';
import {
  landmarkCachePath,
  roiFromVideo,
  roiFromFrames,
  annotateVideo,
  RoiError,
  FaceDetector,
  faceModels,
  composeVideo,
  photoToFrame,
  type Motion,
  type FrameStack,
  type Frame,
} from '../src/roi/index.js';
import { roiSourceWindow } from '../src/roi/mouth_roi.js';
import { applyAffine, invertAffine, type Point } from '../src/roi/geometry.js';
import { mouthCenter } from '../src/roi/landmarks.js';
import { warpAffine, frameAt, toGray } from '../src/roi/image.js';

const root = new URL('../../', import.meta.url).pathname;
const PHOTO = path.join(root, 'test/fixtures/roi/messi5.jpg');
const bin = path.join(root, 'bin/eflip.js');
const MOUTH_IN_PHOTO: Point = [244, 110]; // near Messi's mouth in the 548×342 photo
let dir = '';
let photo: Frame;
let detector: FaceDetector;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eflip-roi-test-'));
  process.env.EFLIP_CACHE_DIR = path.join(dir, 'cache'); // the landmark cache of these tests (and their CLI children)
  const v = await decodeVideo(PHOTO);
  photo = { data: v.data, width: v.width, height: v.height, channels: 3 };
  detector = await FaceDetector.create();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function writeVideo(name: string, v: FrameStack): Promise<string> {
  const file = path.join(dir, name);
  await encodeVideo(file, v.data, {
    frames: v.frames,
    height: v.height,
    width: v.width,
    channels: v.channels,
    fps: 25,
    crf: 16,
  });
  return file;
}

const dist = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);
const meanAbsDiff = (a: Uint8Array, b: Uint8Array) =>
  a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

// 14 frames: drifting shift, zoom 0.9 → 1.16, rotation -12° → +14°, frames 6 and 7 missing
const MOTIONS: Motion[] = Array.from({ length: 14 }, (_, t) => ({
  dx: 2 * t - 10,
  dy: 6 - t,
  scale: 0.9 + 0.02 * t,
  degrees: -12 + 2 * t,
  blank: t === 6 || t === 7,
}));
const COMPOSE = {
  width: 256,
  height: 256,
  anchor: MOUTH_IN_PHOTO,
  zoom: 2.4,
  at: [128, 150] as Point,
};

test('mouth track follows known shifts, scales and rotations; gaps are interpolated; ROI stays on the mouth', async (tc) => {
  const file = await writeVideo('moving.mp4', composeVideo(photo, MOTIONS, COMPOSE));
  const r = await roiFromVideo(file, { faceDetector: detector, every: 4 });
  const { info, rois } = r;
  assert.equal(info.frames, 14);
  assert.deepEqual(info.filled, [6, 7], 'exactly the two blank frames are filled');
  assert.equal(info.raw[6], null);
  assert.ok(
    info.sources.includes('track') && info.sources.includes('detect'),
    info.sources.join(','),
  );
  assert.equal(info.maxFaces, 1);
  // the mouth of frame 0, carried into every frame by the known transform
  const m0 = applyAffine(
    invertAffine(photoToFrame(MOTIONS[0], COMPOSE)),
    mouthCenter(info.raw[0]!),
  );
  const errs: number[] = [];
  for (let t = 0; t < 14; t++) {
    const expected = applyAffine(photoToFrame(MOTIONS[t], COMPOSE), m0);
    const raw = info.raw[t];
    if (raw) errs.push(dist(mouthCenter(raw), expected));
    // the ROI centre (smoothed, interpolated where blank) sits on the true mouth
    const roiCentre = applyAffine(rois.transforms[t], [47.5, 47.5]);
    assert.ok(
      dist(roiCentre, expected) < 4,
      `frame ${t}: ROI centre ${roiCentre} vs mouth ${expected}`,
    );
  }
  tc.diagnostic(
    `raw mouth error vs known transform (px): ${errs.map((e) => e.toFixed(2)).join(' ')}`,
  );
  assert.ok(Math.max(...errs) < 3.5, `raw mouth errors ${errs.map((e) => e.toFixed(2))}`);
  // alignment undoes rotation and scale: aligned ROIs agree with frame 0's far better than a fixed window
  assert.equal(rois.width, 96);
  assert.equal(rois.channels, 1);
  const video = await decodeVideo(file);
  const roi0 = rois.data.subarray(0, 96 * 96);
  for (const t of [11, 13]) {
    const aligned = meanAbsDiff(rois.data.subarray(t * 96 * 96, (t + 1) * 96 * 96), roi0);
    const fixed = warpAffine(toGray(frameAt(video, t)), rois.transforms[0], 96, 96).data;
    const unaligned = meanAbsDiff(fixed, roi0);
    tc.diagnostic(
      `frame ${t}: ROI mean |diff| to frame 0: aligned ${aligned.toFixed(1)}, fixed window ${unaligned.toFixed(1)}`,
    );
    assert.ok(
      aligned < 0.6 * unaligned && aligned < 20,
      `frame ${t}: aligned ${aligned.toFixed(1)} vs fixed window ${unaligned.toFixed(1)}`,
    );
  }
  // streamed (file) and in-memory (decoded frames) runs agree frame for frame
  const mem = await roiFromFrames(video, { faceDetector: detector, every: 4 }, file);
  assert.deepEqual(mem.info.landmarks, info.landmarks);
  assert.deepEqual(mem.rois.data, rois.data);
  // second run: landmarks from the per-user cache (never beside the clip)
  assert.equal(r.cached, false);
  assert.ok(
    !existsSync(file.replace(/\.mp4$/, '.landmarks.json')),
    'nothing written beside the clip',
  );
  assert.ok(existsSync(landmarkCachePath(info.sha256)), 'cached under $EFLIP_CACHE_DIR/landmarks');
  const again = await roiFromVideo(file, { faceDetector: detector, every: 4 });
  assert.equal(again.cached, true);
  assert.deepEqual(again.info.landmarks, info.landmarks);
  // cached landmarks, or frames too many to keep: the cutting pass decodes only the part of
  // the frames the ROIs cover (an ffmpeg crop) and cuts the same bytes as from whole frames
  assert.deepEqual(again.rois.data, rois.data);
  assert.deepEqual(again.rois.outside, rois.outside);
  const twoPass = await roiFromVideo(file, { faceDetector: detector, every: 4, cache: false }, 0);
  assert.equal(twoPass.cached, false);
  assert.deepEqual(twoPass.rois.data, rois.data);
  const w = roiSourceWindow(info.landmarks, info.width, info.height);
  assert.ok(
    w.width * w.height < 0.8 * info.width * info.height,
    `the ROIs' source window ${JSON.stringify(w)} is a part of the ${info.width}×${info.height} frame`,
  );
});

test("tracking holds a face tilted beyond the detectors' range (to -33°)", async () => {
  const motions: Motion[] = Array.from({ length: 12 }, (_, t) => ({ degrees: -3 * t }));
  const r = await roiFromFrames(
    composeVideo(photo, motions, COMPOSE),
    { faceDetector: detector, every: 5 },
    'tilting',
  );
  assert.deepEqual(r.info.filled, [], `sources ${r.info.sources.join(',')}`);
  const m0 = applyAffine(
    invertAffine(photoToFrame(motions[0], COMPOSE)),
    mouthCenter(r.info.raw[0]!),
  );
  for (let t = 0; t < 12; t++) {
    const e = dist(mouthCenter(r.info.raw[t]!), applyAffine(photoToFrame(motions[t], COMPOSE), m0));
    assert.ok(e < 2.5, `frame ${t} (${motions[t].degrees}°): mouth error ${e.toFixed(2)} px`);
  }
});

test('face leaving the frame: edge error by default, padded ends when allowed', async () => {
  const v = composeVideo(
    photo,
    Array.from({ length: 12 }, (_, t) => ({ dx: 14 * t })),
    { width: 256, height: 256, anchor: MOUTH_IN_PHOTO, zoom: 2.2 },
  );
  await assert.rejects(
    roiFromFrames(v, { faceDetector: detector, every: 4 }, 'leaving'),
    (e: unknown) =>
      e instanceof RoiError && e.kind === 'edge' && /too close to the frame edge/.test(e.message),
  );
  const r = await roiFromFrames(v, { faceDetector: detector, every: 4, maxOutside: 1 }, 'leaving');
  assert.equal(r.info.raw[11], null, 'face gone in the last frame');
  assert.ok(r.info.filled.includes(11));
  assert.ok(r.rois.outside[11] > 0.25);
});

test('several faces: the large central one is tracked (also while the detector only sees the other) and the count reported', async () => {
  // the big face turns to -50°, where the detectors stop finding it; the small upright one stays findable
  const W = 320,
    H = 240,
    N = 12;
  const big = composeVideo(
    photo,
    Array.from({ length: N }, (_, t) => ({ degrees: -4.5 * t })),
    { width: W, height: H, anchor: MOUTH_IN_PHOTO, zoom: 2, at: [140, 150] },
  );
  const small = composeVideo(photo, [{}], { width: 90, height: 90, anchor: [242, 105], zoom: 1.3 });
  for (let t = 0; t < N; t++)
    for (let y = 0; y < 90; y++)
      big.data.set(small.data.subarray(y * 270, (y + 1) * 270), ((t * H + y + 5) * W + 225) * 3);
  const { api } = await faceModels();
  const tensorsBefore = api.tf.memory().numTensors;
  const r = await roiFromFrames(big, { faceDetector: detector, every: 5 }, 'two-faces');
  assert.equal(api.tf.memory().numTensors, tensorsBefore, 'no tfjs tensors leaked');
  assert.ok(r.info.maxFaces >= 2, `faces seen: ${r.info.maxFaces}`);
  assert.deepEqual(r.info.filled, []);
  for (let t = 0; t < N; t++) {
    const m = mouthCenter(r.info.landmarks[t]);
    assert.ok(m[0] < 200 && m[1] > 120, `frame ${t}: tracked mouth ${m} should be the big face's`);
  }
});

test('no face, empty video: clear errors; a batch run continues past them', async () => {
  const grass = composeVideo(
    photo,
    Array.from({ length: 6 }, () => ({})),
    { width: 160, height: 120, anchor: [100, 310], zoom: 1 },
  );
  const noFace = await writeVideo('grass.mp4', grass);
  await assert.rejects(
    roiFromVideo(noFace, { faceDetector: detector }),
    (e: unknown) =>
      e instanceof RoiError &&
      e.kind === 'no-face' &&
      /no face found in any of its 6 frames/.test(e.message),
  );
  const empty = path.join(dir, 'empty.mp4');
  writeFileSync(empty, '');
  await assert.rejects(
    roiFromVideo(empty, { faceDetector: detector }),
    (e: unknown) => e instanceof RoiError && e.kind === 'empty-video',
  );
  await assert.rejects(
    roiFromFrames({
      data: new Uint8Array(0),
      frames: 0,
      width: 8,
      height: 8,
      channels: 3,
      fps: 25,
    }),
    (e: unknown) => e instanceof RoiError && e.kind === 'empty-video',
  );

  const good = path.join(dir, 'moving.mp4'); // landmarks cached by the first test
  const out = path.join(dir, 'batch');
  const res = spawnSync(
    process.execPath,
    [bin, 'roi', noFace, good, empty, '--out-dir', out, '--every', '4', '--jobs', '2'],
    { encoding: 'utf8' },
  );
  assert.equal(res.status, 1, res.stderr);
  assert.match(res.stderr, /grass\.mp4: no face found/);
  assert.match(res.stderr, /empty\.mp4: .*(no frames|is empty \(0 bytes\))/);
  assert.match(res.stderr, /1 of 3 videos done, 2 failed \(2 workers\)/);
  const info = await probeVideo(path.join(out, 'moving.roi.mp4'));
  assert.equal(info.width, 96);
  assert.equal(info.height, 96);
  assert.equal(info.frames, 14);
  assert.ok(existsSync(path.join(out, 'moving.landmarks.json')));
});

test('annotateVideo draws box, landmarks and ROI outline on every frame', async () => {
  const file = path.join(dir, 'moving.mp4');
  const r = await roiFromVideo(file, { faceDetector: detector, every: 4 });
  const out = path.join(dir, 'annotated.mp4');
  await annotateVideo(file, out, {
    landmarks: r.info.landmarks,
    boxes: r.info.boxes,
    label: 'ABOUT',
  });
  const a = await decodeVideo(out);
  const v = await decodeVideo(file);
  assert.deepEqual([a.frames, a.width, a.height], [v.frames, v.width, v.height]);
  // the frames differ from the input around the mouth (landmark dots, ROI outline)
  const [mx, my] = mouthCenter(r.info.landmarks[0]).map(Math.round);
  let changed = 0;
  for (let y = my - 30; y < my + 30; y++)
    for (let x = mx - 30; x < mx + 30; x++) {
      const i = (y * v.width + x) * 3;
      if (Math.abs(a.data[i] - v.data[i]) + Math.abs(a.data[i + 1] - v.data[i + 1]) > 120)
        changed++;
    }
  assert.ok(changed > 30, `annotated pixels near the mouth: ${changed}`);
});
