// Runs inside headless Chromium (test/roi_browser.test.ts bundles it with scripts/web_build.mjs):
// the same ROI pipeline as Node (src/roi/frames_roi.ts: track → fill gaps → smooth → align →
// cut) on face-api's browser build, over frames the test prepared; POSTs landmarks and ROIs.
import { FaceDetector } from 'eflip/roi';
import { roiFromFrames } from 'eflip/roi';
import { loadFaceModels } from '../../web/face_models.js';

const post = (o) => fetch('/result', { method: 'POST', body: JSON.stringify(o) });

async function main() {
  const meta = await (await fetch('/frames.json')).json();
  const data = new Uint8Array(await (await fetch('/frames.bin')).arrayBuffer());
  const backends = new URLSearchParams(location.search).get('backends')?.split(',');
  const t0 = performance.now();
  const models = await loadFaceModels('/face-models/', backends);
  const t1 = performance.now();
  const det = FaceDetector.withModels(models);
  const r = await roiFromFrames({ ...meta, data }, { faceDetector: det }, 'frames');
  const t2 = performance.now();
  await post({
    backend: models.backend,
    failed: models.failed,
    loadMs: t1 - t0,
    roiMs: t2 - t1,
    landmarks: r.info.landmarks,
    raw: r.info.raw,
    sources: r.info.sources,
    boxes: r.info.boxes,
    rois: {
      frames: r.rois.frames,
      width: r.rois.width,
      height: r.rois.height,
      channels: r.rois.channels,
      data: Array.from(r.rois.data),
    },
  });
}

main().catch((e) => post({ error: String((e && e.stack) || e) }));
