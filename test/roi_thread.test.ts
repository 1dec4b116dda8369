// The ROI pipeline's helper thread (src/roi/detector_thread.ts) and its early encoder
// (roiVideoToFile): both only move work in time, so results must be the main-thread ones —
// same landmarks, same ROI pixels, same mp4 bytes — and a failed run must leave nothing behind.
// Real photograph, real face models, real ffmpeg.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeVideo } from '../src/data/video.js';
import { encodeVideo } from '../src/data/video_writer.js';
import {
  roiFromFrames,
  roiFromVideo,
  roiVideoToFile,
  RoiError,
  FaceDetector,
  composeVideo,
  type Frame,
  type Motion,
} from '../src/roi/index.js';

const root = new URL('../../', import.meta.url).pathname;
let dir = '';
let photo: Frame;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eflip-roi-thread-'));
  const v = await decodeVideo(path.join(root, 'test/fixtures/roi/messi5.jpg'));
  photo = { data: v.data, width: v.width, height: v.height, channels: 3 };
});
after(() => rmSync(dir, { recursive: true, force: true }));

const COMPOSE = { width: 256, height: 256, anchor: [244, 110] as [number, number], zoom: 2.3 };
// 60 frames of drift, zoom and roll, the face gone in frames 31-33 (a lost track: verification
// fails, detection is retried off its schedule, frames before it are tracked backwards)
const MOTIONS: Motion[] = Array.from({ length: 60 }, (_, t) => {
  const ph = (2 * Math.PI * t) / 30;
  return {
    dx: 12 * Math.sin(ph),
    dy: 8 * Math.sin(2 * ph),
    scale: 1 + 0.08 * Math.sin(ph),
    degrees: 9 * Math.sin(ph),
    blank: t >= 31 && t <= 33,
  };
});

test(
  'helper thread: detections and verifications beside the landmark net give the main-thread result',
  {
    skip: os.availableParallelism() < 2 ? 'one core: no helper thread' : false,
  },
  async () => {
    const clip = composeVideo(photo, MOTIONS, COMPOSE);
    const here = await FaceDetector.create({ thread: false });
    const beside = await FaceDetector.create();
    assert.equal(await beside.startThread(), true, 'the helper thread starts');
    assert.equal(beside.parallel, true);
    assert.equal(here.parallel, false);
    for (const every of [25, 7]) {
      const a = await roiFromFrames(clip, { faceDetector: here, every });
      const b = await roiFromFrames(clip, { faceDetector: beside, every });
      assert.ok(a.info.detections >= 3, `several detections (${a.info.detections})`);
      assert.deepEqual(a.info.filled.length > 0, true, 'the blank frames are filled');
      assert.deepEqual(b.info.sources, a.info.sources);
      assert.deepEqual(b.info.boxes, a.info.boxes);
      assert.deepEqual(b.info.raw, a.info.raw);
      assert.deepEqual(b.info.landmarks, a.info.landmarks);
      assert.equal(b.info.detections, a.info.detections);
      assert.ok(Buffer.from(b.rois.data).equals(Buffer.from(a.rois.data)), 'same ROI pixels');
    }
  },
);

test('EFLIP_ROI_THREAD: a value other than 0 or 1 is refused when the detector is made, naming the variable', async () => {
  const saved = process.env.EFLIP_ROI_THREAD;
  try {
    process.env.EFLIP_ROI_THREAD = 'true';
    await assert.rejects(FaceDetector.create(), (e: Error) => {
      assert.equal(e.name, 'EnvSwitchError');
      assert.match(e.message, /^EFLIP_ROI_THREAD="true": expected 0 or 1 \(or unset\)$/);
      return true;
    });
    // a detector without a helper thread (the thread's own) does not read it
    assert.equal((await FaceDetector.create({ thread: false })).parallel, false);
    process.env.EFLIP_ROI_THREAD = '0';
    const off = await FaceDetector.create();
    assert.equal(await off.startThread(), false, 'EFLIP_ROI_THREAD=0: no helper thread');
  } finally {
    if (saved === undefined) delete process.env.EFLIP_ROI_THREAD;
    else process.env.EFLIP_ROI_THREAD = saved;
  }
});

test('roiVideoToFile: the mp4 of encoding after tracking, byte for byte; a failed run leaves no file, no temp, no directory', async () => {
  const det = await FaceDetector.create();
  const clip = composeVideo(photo, MOTIONS.slice(0, 30), COMPOSE);
  const src = path.join(dir, 'talk.mp4');
  await encodeVideo(src, clip.data, { ...clip, fps: 25, crf: 16 });
  const after = path.join(dir, 'after.mp4');
  const r = await roiFromVideo(src, { faceDetector: det, cache: false });
  await encodeVideo(after, r.rois.data, { ...r.rois, fps: r.rois.fps });
  const early = path.join(dir, 'early.mp4');
  const e = await roiVideoToFile(src, early, { faceDetector: det, cache: false });
  assert.deepEqual(e.info.landmarks, r.info.landmarks);
  assert.ok(readFileSync(early).equals(readFileSync(after)), 'same mp4 bytes');

  // no face: RoiError, and the encoder that was started leaves nothing
  const grass = composeVideo(
    photo,
    Array.from({ length: 6 }, () => ({})),
    { width: 160, height: 120, anchor: [100, 310], zoom: 1 },
  );
  const noFace = path.join(dir, 'grass.mp4');
  await encodeVideo(noFace, grass.data, { ...grass, fps: 25 });
  const outDir = path.join(dir, 'out');
  mkdirSync(outDir);
  await assert.rejects(
    roiVideoToFile(noFace, path.join(outDir, 'grass.roi.mp4'), { faceDetector: det, cache: false }),
    (err: unknown) => err instanceof RoiError && err.kind === 'no-face',
  );
  assert.deepEqual(readdirSync(outDir), [], 'no ROI file and no temp file');
  const missing = path.join(dir, 'not-there', 'grass.roi.mp4');
  await assert.rejects(
    roiVideoToFile(noFace, missing, { faceDetector: det, cache: false }),
    (err: unknown) => err instanceof RoiError && err.kind === 'no-face',
  );
  assert.equal(existsSync(path.dirname(missing)), false, 'no directory made for a failed run');
});

test('a face lost, then found again by a detection: the frames between are tracked backwards from it', async () => {
  // blank frames 3-6, detections every 7 frames: frame 7 is due for tracking but has no
  // previous landmarks, so it waits; the detection at 10 tracks 9, 8, 7 backwards
  const motions = MOTIONS.slice(0, 14).map((m, t) => ({ ...m, blank: t >= 3 && t <= 6 }));
  const clip = composeVideo(photo, motions, COMPOSE);
  const r = await roiFromFrames(clip, {
    faceDetector: await FaceDetector.create({ thread: false }),
    every: 7,
  });
  const s = r.info.sources;
  assert.deepEqual(s.slice(3, 7), ['none', 'none', 'none', 'none']);
  const found = s.indexOf('detect', 7);
  assert.ok(found > 7, `re-detected at ${found}: ${s.join(',')}`);
  for (let t = 7; t < found; t++) {
    assert.equal(s[t], 'track', `frame ${t} tracked backwards (${s.join(',')})`);
    assert.ok(r.info.raw[t], `frame ${t} has landmarks`);
  }
});
