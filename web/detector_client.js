// The page's side of web/detector_worker.js: a DetectorHelper (src/roi/detector.ts) for
// FaceDetector.withModels, so the webcam's full detections (~100 ms each on this machine's
// wasm, one every 25 frames) and tracked-crop checks run beside the page's landmark net
// instead of stalling its frame loop. Until the worker's models are loaded, and for good once
// it fails, the page's detector runs them itself (FaceDetector's fallback).
import { WorkerClient } from './worker_client.js';
import { backendLabel } from './face_models.js';

export class DetectorWorker extends WorkerClient {
  constructor(url = '/detector_worker.js') {
    super(url, 'the face detector worker');
    this.loaded = false;
    this.answered = 0; // detections and crop checks the worker answered
    this.backend = null; // the worker's tfjs backend, once loaded ('wasm, 1 thread')
    this.started = this.call({ op: 'ready' }).then(
      (r) => {
        this.backend = backendLabel(r);
        return (this.loaded = !this.dead);
      },
      (e) => {
        this.startError = e; // why it did not start (the page says so)
        return false;
      },
    );
  }

  /** the worker's models are loaded and it has not failed */
  get ready() {
    return this.loaded && !this.dead;
  }

  /** FaceDetector.detectIn in the worker (a copy of the frame is sent; the frame stays the caller's). */
  async detect(frame, kind, inputSize, minScore) {
    const f = ownCopy(frame);
    const r = await this.call({ op: 'detect', frame: f, kind, inputSize, minScore }, [
      f.data.buffer,
    ]);
    this.answered++;
    return r.boxes;
  }

  /** FaceDetector.hasFaceIn in the worker. */
  async hasFace(crop, minScore) {
    const f = ownCopy(crop);
    const r = await this.call({ op: 'hasFace', frame: f, minScore }, [f.data.buffer]);
    this.answered++;
    return r.face;
  }
}

function ownCopy(f) {
  return { data: f.data.slice(), width: f.width, height: f.height, channels: f.channels };
}
