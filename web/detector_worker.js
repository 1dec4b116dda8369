// The webcam's face detector off the main thread (a module Web Worker): face-api on its own
// tfjs-wasm answers the full detections and the tracked-crop checks of the ROI tracker
// (src/roi/track.ts; web/detector_client.js is its DetectorHelper), while the page runs the
// landmark net frame after frame — the browser's counterpart of Node's detector thread
// (src/roi/detector_thread.ts), answering with the same FaceDetector code on the same pixels.
import { FaceDetector } from 'eflip/roi';
import { loadFaceModels } from './face_models.js';
import { answerInOrder } from './worker_answers.js';

const detectors = new Map(); // detector kind → FaceDetector (one set of models)

async function detector(kind = 'auto') {
  if (!detectors.has(kind))
    detectors.set(
      kind,
      loadFaceModels().then((models) => FaceDetector.withModels(models, { detector: kind })),
    );
  return detectors.get(kind);
}

answerInOrder(async (m) => {
  switch (m.op) {
    case 'ready': {
      await detector();
      const { backend, threads } = await loadFaceModels();
      return { backend, threads };
    }
    case 'detect':
      return { boxes: await (await detector(m.kind)).detectIn(m.frame, m.inputSize, m.minScore) };
    case 'hasFace':
      return { face: await (await detector()).hasFaceIn(m.frame, m.minScore) };
    default:
      throw new Error(`unknown message ${m.op}`);
  }
});
