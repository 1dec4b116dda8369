// face-api's landmark nets rebuilt as ONNX graphs (src/roi/landmarks_onnx.ts) against face-api's
// own tfjs forward pass: the same outputs on a noise crop and on real face crops, for both nets,
// and the whole tracker gives the same landmarks with either runtime. Real weights (the npm
// package's), real onnxruntime, real photograph.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { decodeVideo } from '../src/data/video.js';
import { faceModels } from '../src/roi/backend.js';
import { OnnxLandmarkNet } from '../src/roi/landmarks_onnx.js';
import {
  FaceDetector,
  composeVideo,
  roiFromFrames,
  type Frame,
  type LandmarkKind,
} from '../src/roi/index.js';

const root = new URL('../../', import.meta.url).pathname;
let photo: Frame;

before(async () => {
  const v = await decodeVideo(path.join(root, 'test/fixtures/roi/messi5.jpg'));
  photo = { data: v.data, width: v.width, height: v.height, channels: 3 };
});

/** face-api's raw landmark output (fractions of the crop) on tfjs, as the detector ran it. */
async function tfjsOutput(kind: LandmarkKind, crop: Uint8Array): Promise<Float32Array> {
  const { api } = await faceModels();
  const net = kind === 'full' ? api.nets.faceLandmark68Net : api.nets.faceLandmark68TinyNet;
  const t = api.tf.tensor3d(Float32Array.from(crop), [112, 112, 3], 'float32');
  const out = net.runNet(new api.NetInput([t]));
  try {
    return (await out.data()) as Float32Array;
  } finally {
    t.dispose();
    out.dispose();
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('the ONNX landmark nets give face-api/tfjs outputs: noise and face crops, full and tiny', async () => {
  const { api } = await faceModels();
  const noise = new Uint8Array(112 * 112 * 3);
  let s = 7;
  for (let i = 0; i < noise.length; i++) noise[i] = (s = (s * 48271) % 2147483647) & 255;
  // face crops as the tracker cuts them: the detector's window on the photo, turned and scaled
  const det = await FaceDetector.create({ thread: false });
  const [box] = await det.detect(photo);
  assert.ok(box, 'a face in the photo');
  const win = FaceDetector.boxWindow(box);
  const faces = [
    win,
    { ...win, angle: 0.2, size: win.size * 1.1 },
    { ...win, center: [win.center[0] + 6, win.center[1] - 4] as [number, number], angle: -0.15 },
  ].map((w) => Uint8Array.from(det.trackingCrop(photo, w).data));
  for (const kind of ['full', 'tiny'] as const) {
    const net = await OnnxLandmarkNet.open(api, kind);
    for (const [name, crop] of [['noise', noise], ...faces.map((f, i) => [`face ${i}`, f])] as [
      string,
      Uint8Array,
    ][]) {
      const d = maxAbsDiff(await net.run(crop), await tfjsOutput(kind, crop));
      // 1e-5 of the crop side is 0.001 px of the 112-pixel crop (measured ~1.5e-7)
      assert.ok(d < 1e-5, `${kind}, ${name}: max |Δ| ${d}`);
    }
    // the face crops' outputs are landmarks (inside the crop), not a constant
    const a = await net.run(faces[0]);
    const b = await net.run(faces[1]);
    assert.ok(maxAbsDiff(a, b) > 0.01, 'different crops, different landmarks');
    assert.ok(
      a.every((v) => v > 0 && v < 1),
      'all 68 points inside the crop',
    );
  }
});

// Tracking feeds each frame's landmarks into the next frame's crop, so the nets' ~1e-5 px
// differences accumulate over tracked frames (a random walk: 0.01 px at frame 3, ~0.05 px by
// frame 9 here); the bound is well under the ~0.5 px mouth error of `eflip bench roi`.
test('tracking a moving face: landmarks with the ONNX net stay within 0.1 px of tfjs ones', async () => {
  const clip = composeVideo(
    photo,
    Array.from({ length: 12 }, (_, t) => ({ dx: 3 * t, degrees: 2 * Math.sin(t), scale: 1 })),
    { width: 256, height: 256, anchor: [244, 110], zoom: 2.3 },
  );
  const run = async (landmarkRuntime: 'onnx' | 'tfjs') =>
    roiFromFrames(clip, {
      faceDetector: await FaceDetector.create({ thread: false, landmarkRuntime }),
    });
  const onnx = await run('onnx');
  const tfjs = await run('tfjs');
  assert.deepEqual(onnx.info.sources, tfjs.info.sources);
  let worst = 0;
  for (let t = 0; t < clip.frames; t++) {
    const a = onnx.info.raw[t]!,
      b = tfjs.info.raw[t]!;
    for (let i = 0; i < 68; i++)
      worst = Math.max(worst, Math.hypot(a[i][0] - b[i][0], a[i][1] - b[i][1]));
  }
  assert.ok(worst < 0.1, `largest landmark difference ${worst} px`);
});
