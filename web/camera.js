// Webcam mode: camera frames (<video> → canvas, RGB) through the same ROI pipeline as Node
// (src/roi/track.ts: full detection every 25 frames — every 5 while no face is tracked —
// landmark tracking in between, verified when the tracked crop changes; face-api on tfjs-wasm;
// the detections and checks in a Web Worker of their own, web/detector_worker.js, started
// DETECT_AHEAD frames early, so the page's frame loop never waits ~100 ms for one) → the mouth
// ROI cut by src/roi/mouth_roi.ts → eflip's pre-processing → the streaming reader (29-frame
// window, feature cache; in a Web Worker, web/model_worker.js, so the model runs on one core
// while the face is tracked in the next frame on the other; `useWorker: false` keeps it on the
// page) → words as they are read. The model reads 25 frames per second of speech: camera frames
// are put on that timeline by their capture times (web/slots.js) — frames between slots are
// dropped untouched, a slot the camera (or a busy page) gave no frame for repeats the previous
// one. Live, frames whose landmarks are not found reuse the last ones for up to 10 slots; the
// offline gap filling and centred smoothing need future frames and are not applied here.
import { FaceDetector } from 'eflip/roi';
import { trackMainFace, DETECT_EVERY } from 'eflip/roi';
import { cutMouthRoi } from 'eflip/roi';
import { drawOverlay } from './overlay.js';
import { StreamingLipReader, prepareFrames, inputPlanes, MODEL_FPS } from 'eflip/infer';
import { loadFaceModels, backendLabel } from './face_models.js';
import { ModelWorker } from './model_client.js';
import { DetectorWorker } from './detector_client.js';
import { SlotScheduler, frameTimeMs } from './slots.js';
import { canvasFrame, decoderFrame } from './frames.js';

const ROI = 96;
const HOLD = 10; // slots (40 ms each) a lost face's last landmarks stay in use
const WINDOW = 29; // the streaming reader's window
// pushes (a tracked frame and the repeats before it) the model worker may be behind the face
// tracker; a push's repeats are stored without evaluating their windows, so it costs about one
// frame's model time however many slots it fills
const IN_FLIGHT = 2;
// a full detection every DETECT_EVERY frames while a face is tracked (as for files: tracking is
// verified whenever the tracked crop changes, so a face that leaves is noticed on that frame);
// while no face is tracked, a detection every RETRY_EVERY frames finds one that came back quickly
const RETRY_EVERY = 5;
// frames read ahead of tracking while the detector worker is up (track.ts `lookahead`): a
// scheduled detection starts this many frames (160 ms) before its frame is tracked, which hides
// its ~100 ms; each is a frame of latency before the words
const DETECT_AHEAD = 4;

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
  /** `model`: {source, options} to open the same model in the worker (loadLipReader's args). */
  constructor({
    video,
    overlay,
    reader,
    onUpdate,
    model = null,
    useWorker = true,
    faceWorker = true,
    every = DETECT_EVERY,
    timeScale = 1,
  }) {
    // `timeScale`: seconds of speech per second of camera time (1; a test's fake camera playing
    // a 25 frames/s clip at 1 frame/s is 0.04)
    // `faceWorker`: full detections and crop checks in web/detector_worker.js (false: on the page)
    Object.assign(this, {
      video,
      overlay,
      reader,
      onUpdate,
      model,
      useWorker,
      faceWorker,
      every,
      timeScale,
    });
    this.slots = new SlotScheduler({ fps: MODEL_FPS, maxRepeat: WINDOW - 1 });
    this.inflight = [];
    this.placeOf = new WeakMap(); // camera frame → its place on the timeline (web/slots.js)
    this.running = false;
    this.stats = {
      frames: 0,
      faces: 0,
      fps: 0,
      // the 25 frames/s timeline (web/slots.js): camera frames seen, used (tracked) and dropped,
      // slots filled (used + repeats), slots fed to the reader (with a face), the reader's own
      // frame count, and the camera time from the first used frame to the last (ms)
      slots: null,
      fed: 0,
      readerFrames: 0,
      cameraMs: 0,
      clock: null,
      msTrack: 0,
      msModel: 0,
      box: null,
      top: [],
      words: [],
      backend: '',
      modelIn: 'page',
      detectorIn: 'page',
      // detections and crop checks answered by web/detector_worker.js
      detectorWorkerCalls: 0,
      totals: {
        detect: 0,
        landmarks: 0,
        verify: 0,
        model: 0,
        grab: 0,
        waitModel: 0,
        waitCamera: 0,
        frame: 0,
        frames: 0,
        since: 0,
        calls: { detect: 0, landmarks: 0, verify: 0 },
      },
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
    this.stats.backend = backendLabel(models);
    if (this.faceWorker && typeof Worker !== 'undefined') {
      this.faceHelper = new DetectorWorker();
      // the page's detector answers until the worker's models are loaded (or if it fails)
      void this.faceHelper.started.then((ok) => {
        this.stats.detectorIn = ok
          ? `worker (${this.faceHelper?.backend})`
          : `page (the detector worker did not start${this.faceHelper?.startError ? `: ${this.faceHelper.startError.message}` : ''})`;
      });
    }
    this.detector = FaceDetector.withModels(
      models,
      this.faceHelper ? { helper: this.faceHelper } : {},
    );
    // time each part of the face pipeline (totals for `eflip bench webapp`)
    for (const [fn, key] of [
      ['detect', 'detect'],
      ['landmarksAndCrop', 'landmarks'],
      ['hasFace', 'verify'],
    ]) {
      const f = this.detector[fn].bind(this.detector);
      this.detector[fn] = async (...a) => {
        const t = performance.now();
        try {
          return await f(...a);
        } finally {
          this.stats.totals[key] += performance.now() - t;
          this.stats.totals.calls[key]++;
        }
      };
    }
    this.sr = new StreamingLipReader(this.reader, { window: 29, fps: MODEL_FPS, topK: 5 });
    if (this.useWorker && this.model && typeof Worker !== 'undefined') {
      try {
        this.worker = new ModelWorker();
        // the face models keep one core busy (tfjs-wasm: one thread on ≤ 2 cores); the model
        // worker takes the rest, so the two do not fight over the same core
        const o = { ...this.model.options };
        if (o.threads > 1)
          o.threads = Math.max(
            1,
            Math.min(o.threads, (navigator.hardwareConcurrency || 2) - (models.threads || 1)),
          );
        await this.worker.open(this.model.source, o);
        this.stats.modelThreads = o.threads;
        this.stats.modelIn = `worker, ${o.threads} thread${o.threads > 1 ? 's' : ''}`;
      } catch (e) {
        // the page's own reader still works: say so in the stats line and go on without the worker
        this.worker?.terminate();
        this.worker = null;
        this.stats.modelIn = `page (worker failed: ${e.message})`;
      }
    }
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
    const w = this.worker;
    this.worker = null;
    this.faceHelper?.terminate();
    this.faceHelper = null;
    void Promise.allSettled(this.inflight).then(() => w?.close().catch(() => {}));
    this.stream?.getTracks().forEach((t) => t.stop());
    this.video.srcObject = null;
    this.running = false;
  }

  async *frames() {
    const canvas = document.createElement('canvas'); // canvasFrame's, for formats the planes do not cover
    // each camera frame is looked at once, when requestVideoFrameCallback reports it, and put
    // on the 25 frames/s timeline by its capture time (web/slots.js): a frame between slots is
    // dropped before it is grabbed. Without the callback every turn
    // grabs a frame, timed by the page's clock. When the page is ahead of the camera it waits
    // for the callback, not a polling timer.
    let presented = 0,
      read = 0,
      timeMs = 0,
      wake = null;
    const count = (now, meta) => {
      presented = meta.presentedFrames;
      timeMs = frameTimeMs(now, meta);
      // which clock times the frames (the stats line and the tests say)
      this.stats.clock ??=
        ['captureTime', 'mediaTime', 'expectedDisplayTime'].find((k) => Number.isFinite(meta[k])) ??
        'page';
      wake?.();
      if (this.running) this.video.requestVideoFrameCallback(count);
    };
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(count);
    // a macrotask per frame lets the camera deliver frames, the worker's answers arrive and the
    // page stay responsive; a MessageChannel turn, not setTimeout(0), which Chromium clamps to
    // 4 ms once timers nest (each frame's timer is set from the last one's)
    const turn = new MessageChannel();
    let resume = null;
    turn.port1.onmessage = () => resume?.();
    const nextTurn = () =>
      new Promise((r) => {
        resume = r;
        turn.port2.postMessage(0);
      });
    try {
      while (this.running) {
        await nextTurn();
        const w = this.video.videoWidth,
          h = this.video.videoHeight;
        if (!w || !h) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        if (this.video.requestVideoFrameCallback && presented === read) {
          // the next presented frame (the first one too: no frame is timed by two clocks; the
          // timer: the callback stops while the page is hidden)
          const w0 = performance.now();
          await new Promise((r) => {
            wake = r;
            setTimeout(r, 100);
          });
          wake = null;
          this.stats.totals.waitCamera += performance.now() - w0;
          continue;
        }
        read = presented;
        const at = presented ? timeMs : performance.now();
        const place = this.slots.frame(at * this.timeScale);
        if (!place.use) continue; // between slots: not grabbed, not tracked
        this.frameAt ??= at;
        this.stats.cameraMs = at - this.frameAt;
        const g0 = performance.now();
        // the camera's I420 planes as ffmpeg's rgb24 (web/frames.js), else a canvas
        const exact = await decoderFrame(this.video, true);
        const fromPlanes = exact?.width === w && exact.height === h;
        this.stats.frameSource = fromPlanes ? 'decoder yuv' : 'canvas';
        const rgb = fromPlanes ? exact.data : canvasFrame(this.video, canvas, true).data;
        const grabbed = performance.now();
        this.stats.totals.grab += grabbed - g0;
        // the frame's place on the timeline and when it was grabbed, beside it (the frame keeps
        // the shape the ROI code is compiled for)
        const frame = { data: rgb, width: w, height: h, channels: 3 };
        this.placeOf.set(frame, { place, grabbed });
        yield frame;
      }
    } finally {
      turn.port1.close();
    }
  }

  async loop() {
    const gray = inputPlanes(this.reader.channels).image === 1;
    const out = new Uint8Array(ROI * ROI * (gray ? 1 : 3));
    let last = null,
      lastAt = -Infinity, // slot of the last landmarks found
      fedLast = false, // whether the previous slot was fed to the reader (what a repeat repeats)
      held = null, // page mode: the last frame fed, for repeats
      tPrev = performance.now();
    await trackMainFace(this.frames(), this.detector, {
      // live: a face that left the frame must be found again within a few frames (a file's
      // gaps are filled afterwards instead): retried every RETRY_EVERY frames while lost. These
      // intervals count tracked frames (the detector's cost), not slots.
      every: this.every,
      retryEvery: RETRY_EVERY,
      verify: true,
      lookahead: DETECT_AHEAD,
      onFrame: async (t, obs, f) => {
        const s = this.stats;
        const { place, grabbed } = this.placeOf.get(f);
        const helper = this.faceHelper;
        if (helper) {
          s.detectorWorkerCalls = helper.answered;
          // a worker that failed is not asked again (FaceDetector): the page detects from here on
          if (helper.dead && helper.loaded)
            s.detectorIn = `page (the detector worker failed: ${helper.failure.message})`;
        }
        // from the frame's grab to its landmarks (with frames read ahead, their wait included)
        s.msTrack = performance.now() - grabbed;
        s.slots = { ...this.slots.stats };
        if (obs.landmarks) {
          last = obs.landmarks;
          lastAt = place.slot;
          s.faces++;
        }
        const lm = place.slot - lastAt <= HOLD ? last : null;
        s.box = obs.box;
        // the slots before this frame's repeat the previous slot's frame (when it was fed: a
        // face is read only while one is in view), then this frame's ROI
        const repeat = fedLast ? place.repeat : 0;
        let clip = null;
        if (lm) {
          cutMouthRoi(f, lm, ROI, gray, out); // the ROI is written into `out`
          clip = prepareFrames(
            { data: out, frames: 1, height: ROI, width: ROI, channels: gray ? 1 : 3 },
            this.reader.preprocessing,
            MODEL_FPS,
            this.reader.channels,
          );
        }
        fedLast = !!lm;
        s.fed += repeat + (lm ? 1 : 0);
        const took = (ms, top, seen) => {
          s.msModel = ms;
          s.totals.model += ms;
          s.readerFrames = Math.max(s.readerFrames, seen);
          if (!top.length) return;
          s.top = top;
          const w = s.top[0];
          if (w.probability >= 0.5 && s.words[s.words.length - 1] !== w.label)
            s.words.push(w.label);
        };
        if ((clip || repeat) && this.worker) {
          // the model answers while the next frame is tracked; at most IN_FLIGHT pushes behind
          const d = !clip
            ? null
            : clip.data.byteLength === clip.data.buffer.byteLength
              ? clip.data
              : clip.data.slice();
          const answer = this.worker
            .push(d, place.slot, repeat)
            .then((r) => took(r.ms, r.top, r.seen));
          answer.catch(() => {}); // awaited below (a failure stops the loop there)
          this.inflight.push(answer);
          const w0 = performance.now();
          while (this.inflight.length > IN_FLIGHT) await this.inflight.shift();
          s.totals.waitModel += performance.now() - w0;
        } else if (clip || repeat) {
          const m0 = performance.now();
          let step = null;
          for (let i = 0; i < repeat; i++)
            step = await this.sr.push(held, { evaluate: i === repeat - 1 && !clip });
          if (clip) {
            held = clip.data.slice();
            step = await this.sr.push(held);
          }
          took(
            performance.now() - m0,
            step.top.map((e) => ({ label: e.label, probability: e.probability })),
            this.sr.framesSeen,
          );
        }
        this.draw(obs, lm);
        const now = performance.now();
        if (!s.totals.since) {
          // the totals start after the first frame (tfjs' first runs compile its kernels), as
          // the frame times do: per-frame parts and frames/s cover the same frames
          const tt = s.totals;
          tt.since = now;
          tt.detect = tt.landmarks = tt.verify = tt.model = tt.grab = 0;
          tt.waitModel = tt.waitCamera = 0;
          tt.calls = { detect: 0, landmarks: 0, verify: 0 };
        } else {
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
