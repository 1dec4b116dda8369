// Live tracking (the web app's webcam): a full detection every `every` frames while a face is
// tracked, and every `retryEvery` frames while none is — a face that left and came back is found
// within `retryEvery` frames, at a fraction of the detections of detecting that often throughout.
// Real photograph, real face models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { decodeVideo } from '../src/data/video.js';
import {
  FaceDetector,
  composeVideo,
  trackMainFace,
  type FrameObservation,
  type Motion,
} from '../src/roi/index.js';

const root = new URL('../../', import.meta.url).pathname;

test('live tracking: a face that came back is found within retryEvery frames; detections stay rare while it is tracked', async (t) => {
  const v = await decodeVideo(path.join(root, 'test/fixtures/roi/messi5.jpg'));
  const photo = { data: v.data, width: v.width, height: v.height, channels: 3 as const };
  // 40 frames: the face (drifting) in 0-5, gone in 6-11, back from 12 on
  const GONE = [6, 11],
    N = 40;
  const motions: Motion[] = Array.from({ length: N }, (_, t) => ({
    dx: Math.round(6 * Math.sin(t / 6)),
    degrees: 3 * Math.sin(t / 9),
    blank: t >= GONE[0] && t <= GONE[1],
  }));
  const video = composeVideo(photo, motions, {
    width: 320,
    height: 240,
    anchor: [244, 110],
    zoom: 1.8,
    at: [170, 150],
  });
  const det = await FaceDetector.create();
  const run = async (o: { every: number; retryEvery?: number }) => {
    const live: FrameObservation[] = []; // what the page sees, frame by frame (no backward fill)
    let detects = 0;
    const counted = Object.assign(Object.create(det) as FaceDetector, {
      detect: (...a: Parameters<FaceDetector['detect']>) => {
        detects++;
        return det.detect(...a);
      },
    });
    await trackMainFace(video, counted, {
      ...o,
      onFrame: (t, obs) => {
        live[t] = { ...obs };
      },
    });
    const back = live.findIndex((x, t) => t > GONE[1] && x.landmarks !== null);
    return { live, detects, back };
  };
  const slow = await run({ every: 25 });
  const quick = await run({ every: 25, retryEvery: 3 });
  const often = await run({ every: 3 });
  t.diagnostic(
    `face back at frame ${quick.back} (every 25, retry 3; ${quick.detects} detections), ${slow.back} (every 25; ${slow.detects}), ${often.back} (every 3; ${often.detects})`,
  );
  for (const r of [slow, quick, often]) {
    assert.ok(
      r.live.slice(0, GONE[0]).every((x) => x.landmarks),
      'face tracked before it goes',
    );
    assert.ok(
      r.live.slice(GONE[0], GONE[1] + 1).every((x) => !x.landmarks),
      'no face while the frames are blank',
    );
  }
  // lost at frame 6 (the tracked crop changed: verified, no face, detect: none); retried at 9, 12
  assert.ok(
    quick.back >= 0 && quick.back <= GONE[1] + 3,
    `face back at frame ${quick.back} with retryEvery 3`,
  );
  assert.ok(
    slow.back === -1 || slow.back > GONE[1] + 3,
    `without retryEvery, the next try is 25 frames after the last (face back at ${slow.back})`,
  );
  assert.ok(
    quick.live.slice(quick.back).every((x) => x.landmarks),
    'tracked from then on',
  );
  assert.ok(
    quick.detects * 2 <= often.detects,
    `detections: ${quick.detects} (every 25, retry 3) vs ${often.detects} (every 3)`,
  );
});
