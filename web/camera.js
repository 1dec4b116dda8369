// Webcam mode: camera frames (<video> → canvas, RGB) through the same ROI pipeline as Node
// (src/roi/track.ts: detect every 5 frames, landmark tracking in between, verified; face-api on
// tfjs-wasm) → the mouth ROI cut by src/roi/mouth_roi.ts → eflip's pre-processing → the streaming
// reader (29-frame window, feature cache) → words as they are read. Live, frames whose landmarks
// are not found reuse the last ones for up to 10 frames; the offline gap filling and centred
// smoothing need future frames and are not applied here.
import { FaceDetector } from 'eflip/roi';
import { trackMainFace } from 'eflip/roi';
import { cutMouthRoi } from 'eflip/roi';
import { drawOverlay } from './overlay.js';
import { StreamingLipReader, prepareFrames, inputPlanes, MODEL_FPS } from 'eflip/infer';
import { loadFaceModels } from './face_models.js';

const ROI = 96;
const HOLD = 10; // frames a lost face's last landmarks stay in use

/** A one-line message for a getUserMedia failure. */
export function cameraMessage(e) {
  if (!navigator.mediaDevices?.getUserMedia)
    return 'This page cannot use a camera here: browsers allow it only on https:// or http://localhost / 127.0.0.1.';
  switch (e?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera permission was denied: allow the camera for this page (the icon in the address bar) and press Start again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera found: connect one, or upload a video instead.';
    case 'NotReadableError':
      return 'The camera is in use by another program (or failed to start); close it there and press Start again.';
    default:
      return `The camera did not start: ${e?.message ?? e}`;
  }
}

export class CameraReader {
  constructor({ video, overlay, reader, onUpdate }) {
    Object.assign(this, { video, overlay, reader, onUpdate });
    this.running = false;
    this.stats = {
      frames: 0,
      faces: 0,
      fps: 0,
      msTrack: 0,
      msModel: 0,
      box: null,
      top: [],
      words: [],
      backend: '',
      totals: { detect: 0, landmarks: 0, verify: 0, model: 0, frame: 0, frames: 0, since: 0 },
    };
  }

  async start() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (e) {
      throw new Error(cameraMessage(e));
    }
    this.stream = stream;
    this.video.srcObject = stream;
    await this.video.play();
    const models = await loadFaceModels();
    this.stats.backend = models.backend;
    this.detector = FaceDetector.withModels(models);
    // time each part of the face pipeline (totals for `eflip bench webapp`)
    for (const [fn, key] of [
      ['detect', 'detect'],
      ['landmarksIn', 'landmarks'],
      ['hasFace', 'verify'],
    ]) {
      const f = this.detector[fn].bind(this.detector);
      this.detector[fn] = async (...a) => {
        const t = performance.now();
        try {
          return await f(...a);
        } finally {
          this.stats.totals[key] += performance.now() - t;
        }
      };
    }
    this.sr = new StreamingLipReader(this.reader, { window: 29, fps: MODEL_FPS, topK: 5 });
    this.running = true;
    this.done = this.loop()
      .catch((e) => {
        this.stats.error = e.message;
        this.onUpdate(this.stats);
      })
      .finally(() => this.release());
  }

  async stop() {
    this.running = false;
    await this.done;
  }

  release() {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.video.srcObject = null;
    this.running = false;
  }

  async *frames() {
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    // each camera frame is read once: a frame read twice would slow the speech down for the
    // model when the page is faster than the camera (requestVideoFrameCallback counts the frames
    // the camera presented; without it, or before its first call, every turn reads a frame)
    let presented = 0,
      read = 0;
    const count = (_now, meta) => {
      presented = meta.presentedFrames;
      if (this.running) this.video.requestVideoFrameCallback(count);
    };
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(count);
    while (this.running) {
      // a macrotask per frame: lets the camera deliver new frames and the page stay responsive
      await new Promise((r) => setTimeout(r, 0));
      const w = this.video.videoWidth,
        h = this.video.videoHeight;
      if (!w || !h || (presented > 0 && presented === read)) {
        await new Promise((r) => setTimeout(r, w && h ? 5 : 50));
        continue;
      }
      read = presented;
      canvas.width = w;
      canvas.height = h;
      ctx.drawImage(this.video, 0, 0, w, h);
      const px = ctx.getImageData(0, 0, w, h).data;
      const rgb = new Uint8Array(w * h * 3);
      for (let i = 0, j = 0; i < px.length; i += 4, j += 3) {
        rgb[j] = px[i];
        rgb[j + 1] = px[i + 1];
        rgb[j + 2] = px[i + 2];
      }
      this.t0 = performance.now();
      yield { data: rgb, width: w, height: h, channels: 3 };
    }
  }

  async loop() {
    const gray = inputPlanes(this.reader.channels).image === 1;
    const out = new Uint8Array(ROI * ROI * (gray ? 1 : 3));
    let last = null,
      lastAt = -Infinity,
      tPrev = performance.now();
    await trackMainFace(this.frames(), this.detector, {
      every: 5,
      verify: true,
      onFrame: async (t, obs, f) => {
        const s = this.stats;
        s.msTrack = performance.now() - this.t0;
        if (obs.landmarks) {
          last = obs.landmarks;
          lastAt = t;
          s.faces++;
        }
        const lm = t - lastAt <= HOLD ? last : null;
        s.box = obs.box;
        if (lm) {
          cutMouthRoi(f, lm, ROI, gray, out); // the ROI is written into `out`
          const clip = prepareFrames(
            { data: out, frames: 1, height: ROI, width: ROI, channels: gray ? 1 : 3 },
            this.reader.preprocessing,
            MODEL_FPS,
            this.reader.channels,
          );
          const m0 = performance.now();
          const step = await this.sr.push(clip.data);
          s.msModel = performance.now() - m0;
          s.totals.model += s.msModel;
          s.top = step.top.map((e) => ({ label: e.label, probability: e.probability }));
          const w = s.top[0];
          if (w.probability >= 0.5 && s.words[s.words.length - 1] !== w.label)
            s.words.push(w.label);
        }
        this.draw(obs, lm);
        const now = performance.now();
        if (!s.totals.since) s.totals.since = now;
        else {
          s.totals.frames++;
          s.totals.frame += now - tPrev;
        }
        s.fps = 0.8 * s.fps + 0.2 * (1000 / Math.max(1, now - tPrev));
        tPrev = now;
        s.frames = t + 1;
        this.onUpdate(s);
      },
    });
  }

  draw(obs, lm) {
    const top = this.stats.top[0];
    drawOverlay(this.overlay, this.video.videoWidth, this.video.videoHeight, {
      box: obs.box,
      detected: obs.source === 'detect',
      landmarks: lm,
      label: top ? `${top.label} ${(100 * top.probability).toFixed(0)}%` : '',
    });
  }
}
