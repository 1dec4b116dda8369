// Face detection and 68-point landmarks on single frames, over the face-api models
// (see backend.ts). Detectors, chosen by measurement on the test photo (docs/roi.md):
// - 'tiny': tiny YOLOv2-style detector run at about the frame's own size (multiple of 32,
//   160-416): ~5-10× faster than SSD and robust to large, tilted (±24°) faces;
// - 'ssd': SSD-MobileNetV1 (input resized to 512²): finds small faces in big frames, but
//   misses faces above ~40 % of the frame and tilts beyond ~15°;
// - 'auto' (default): tiny, then SSD on frames where tiny finds nothing.
// Landmark nets: 'full' (default) or 'tiny'; both take a 112×112 face crop.
import { EnvSwitchError } from '../env_switch.js';
import type { FaceModels, LandmarkKind, LandmarkRunner } from './face_models.js';
import { type Affine, type Point, applyAffine, similarityAbout } from './geometry.js';
import { type Frame, toRgb, warpAffine } from './image.js';
import type { Landmarks } from './landmarks.js';

export type DetectorKind = 'auto' | 'ssd' | 'tiny';
export type { LandmarkKind } from './face_models.js';

export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

/** A square crop window in a frame: centre, side (pixels) and rotation (radians). */
export interface CropWindow {
  center: Point;
  size: number;
  angle: number;
}

export interface FaceDetectorOptions {
  detector?: DetectorKind;
  landmarks?: LandmarkKind;
  /** minimum detection score (default 0.5) */
  minScore?: number;
  /** tiny detector input size, a multiple of 32 (default: the frame's longer side, 160-416) */
  tinyInputSize?: number;
  /**
   * Node: run detections and crop verifications on a helper thread (detector_thread.ts; default
   * true, used on ≥ 2 cores), started once THREAD_AFTER frames have been tracked
   */
  thread?: boolean;
  /**
   * A helper already running beside this thread that takes detect() and hasFace() once it is
   * ready (the browser's: the web app's detector worker, web/detector_client.js; Node starts its
   * own, `thread`). Until then, and for good once it fails, they run here.
   */
  helper?: DetectorHelper;
  /**
   * What runs the landmark net: 'onnx' (default where there is one: Node, onnxruntime — the
   * same arithmetic, ~5× faster; landmarks_onnx.ts) or 'tfjs' (face-api's own forward pass; the
   * browser's, and the A/B of `eflip bench roi`)
   */
  landmarkRuntime?: 'onnx' | 'tfjs';
}

/** A detection box in the pixels of the frame the detector was given. */
export type RawBox = FaceBox;

/** A thread that runs detections and verifications beside this one (Node: detector_thread.ts; the web app: web/detector_client.js). */
export interface DetectorHelper {
  /** its models are loaded */
  readonly ready: boolean;
  /** resolves when they are (true), or when it could not start (false) */
  readonly started: Promise<boolean>;
  detect(frame: Frame, kind: DetectorKind, inputSize: number, minScore: number): Promise<RawBox[]>;
  hasFace(crop: Frame, minScore: number): Promise<boolean>;
}

const LANDMARK_INPUT = 112;
/**
 * Tracked frames before the helper thread starts: its start-up (the models loaded again, ~0.3 s
 * of CPU) pays off over a longer video or many videos, not over one short clip.
 */
export const THREAD_AFTER = 50;
/** side of the crop hasFace() checks */
const VERIFY_INPUT = 160;

/** A tracking crop (FaceDetector.trackingCrop): 112×112 RGB, its crop→frame transform and signature. */
export interface TrackingCrop {
  data: Uint8Array;
  toFrame: Affine;
  signature: Float32Array;
}
const DETECT_MAX_SIDE = 512;

export class FaceDetector {
  readonly detectorKind: DetectorKind;
  readonly landmarkKind: LandmarkKind;
  readonly minScore: number;
  private readonly tinyInputSize: number | undefined;
  private readonly cropBuf = new Uint8Array(LANDMARK_INPUT * LANDMARK_INPUT * 3);
  private readonly cropF32 = new Float32Array(LANDMARK_INPUT * LANDMARK_INPUT * 3);
  private helper: DetectorHelper | null = null;
  /** starts the helper thread (Node, `thread` on); null once started or where there is none */
  private startHelper: (() => Promise<DetectorHelper | null>) | null = null;
  private cropsTaken = 0;
  private readonly landmarkRuntime: 'onnx' | 'tfjs';
  /** the landmark net outside tfjs (FaceModels.landmarkRunner; opened on first use), or null: tfjs runs it */
  private runner: Promise<LandmarkRunner | null> | null = null;

  private constructor(
    private readonly models: FaceModels,
    o: FaceDetectorOptions,
  ) {
    this.detectorKind = o.detector ?? 'auto';
    this.landmarkKind = o.landmarks ?? 'full';
    this.minScore = o.minScore ?? 0.5;
    this.tinyInputSize = o.tinyInputSize;
    this.landmarkRuntime = o.landmarkRuntime ?? 'onnx';
    this.helper = o.helper ?? null;
  }

  /** A detector on the process-wide Node models (backend.ts, loaded on first use). */
  static async create(o: FaceDetectorOptions = {}): Promise<FaceDetector> {
    const { faceModels, detectorThread, roiThreadOff } = await import('./backend.js'); // Node only: the web build stubs it out
    // EFLIP_ROI_THREAD is read now, so that a value it does not know is refused before any work
    // (the thread itself starts later, from a tracking crop that cannot report an error)
    const thread = (o.thread ?? true) && !roiThreadOff();
    const d = new FaceDetector(await faceModels(), o);
    if (thread) d.startHelper = detectorThread;
    return d;
  }

  /**
   * Start the helper thread now (not after THREAD_AFTER tracked frames) and wait for its
   * models; resolves to `parallel` (benchmarks: timed runs start with it ready).
   */
  async startThread(): Promise<boolean> {
    const start = this.startHelper;
    this.startHelper = null;
    try {
      if (start) this.helper = await start();
      return (await this.helper?.started) ?? false;
    } catch (e) {
      if (e instanceof EnvSwitchError) throw e; // EFLIP_ROI_THREAD=<unknown value>: refused, not ignored
      return false; // no thread: everything stays on this one
    }
  }

  /** Whether detect() and hasFace() run beside the main thread (a helper thread whose models are loaded). */
  get parallel(): boolean {
    return this.helper?.ready ?? false;
  }

  /** A detector on models loaded elsewhere (the browser: face-api's ESM build). */
  static withModels(models: FaceModels, o: FaceDetectorOptions = {}): FaceDetector {
    return new FaceDetector(models, o);
  }

  private tensor(f: Frame): any {
    const rgb = toRgb(f);
    return this.models.api.tf.tensor3d(rgb.data, [rgb.height, rgb.width, 3], 'int32');
  }

  /** All faces in a frame, best score first. */
  async detect(frame: Frame, minScore = this.minScore): Promise<FaceBox[]> {
    // both detectors shrink their input to ≤ 512 px internally: shrink here first, so big
    // frames cost a small tensor (640×480: ~4× less data through tfjs)
    const k = Math.min(1, DETECT_MAX_SIDE / Math.max(frame.width, frame.height));
    const small =
      k < 1
        ? warpAffine(
            toRgb(frame),
            [1 / k, 0, (1 / k - 1) / 2, 0, 1 / k, (1 / k - 1) / 2],
            Math.round(frame.width * k),
            Math.round(frame.height * k),
          )
        : frame;
    const inputSize =
      this.tinyInputSize ??
      Math.min(416, Math.max(160, Math.round(Math.max(frame.width, frame.height) / 32) * 32));
    const dets = await this.onHelper(
      (h) => h.detect(small, this.detectorKind, inputSize, minScore),
      () => this.detectIn(small, inputSize, minScore),
    );
    const sx = frame.width / small.width,
      sy = frame.height / small.height;
    return dets
      .map((d) => ({
        x: d.x * sx,
        y: d.y * sy,
        width: d.width * sx,
        height: d.height * sy,
        score: d.score,
      }))
      .sort((a, b) => b.score - a.score);
  }

  /** The detector on a frame already shrunk to ≤ 512 px (detect()), boxes in its pixels. */
  async detectIn(small: Frame, inputSize: number, minScore: number): Promise<RawBox[]> {
    const { api } = this.models;
    const t = this.tensor(small);
    try {
      const ssd = () =>
        api.nets.ssdMobilenetv1.locateFaces(
          t,
          new api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: 20 }),
        );
      const tiny = () =>
        api.nets.tinyFaceDetector.locateFaces(
          t,
          new api.TinyFaceDetectorOptions({ inputSize, scoreThreshold: minScore }),
        );
      let dets: any[] = this.detectorKind === 'ssd' ? await ssd() : await tiny();
      if (dets.length === 0 && this.detectorKind === 'auto') dets = await ssd();
      return dets.map((d) => ({
        x: d.box.x,
        y: d.box.y,
        width: d.box.width,
        height: d.box.height,
        score: d.score,
      }));
    } finally {
      t.dispose();
    }
  }

  /** Crop-pixel → frame-pixel transform of a crop window sampled at `out`×`out`. */
  static cropToFrame(w: CropWindow, out: number): Affine {
    const s = w.size / out;
    // rotate/scale about the crop centre, then move the crop centre onto the window centre
    return similarityAbout(
      [(out - 1) / 2, (out - 1) / 2],
      s,
      w.angle,
      w.center[0] - (out - 1) / 2,
      w.center[1] - (out - 1) / 2,
    );
  }

  /** 68 landmarks (frame pixels) of the face inside a crop window. */
  async landmarksIn(frame: Frame, win: CropWindow): Promise<Landmarks> {
    return (await this.landmarksAndCrop(frame, win)).landmarks;
  }

  /**
   * The same, plus a small signature of the crop the net saw (cropSignature), for telling
   * whether the tracked window still shows what it showed a frame ago (track.ts).
   */
  async landmarksAndCrop(
    frame: Frame,
    win: CropWindow,
  ): Promise<{ landmarks: Landmarks; signature: Float32Array }> {
    const crop = this.trackingCrop(frame, win);
    return { landmarks: await this.landmarksOfCrop(crop), signature: crop.signature };
  }

  /**
   * The 112×112 crop of a window the landmark net reads (in this detector's buffer: valid until
   * the next crop) and its signature — taken before the net runs, so track.ts can start a
   * verification beside it.
   */
  trackingCrop(frame: Frame, win: CropWindow): TrackingCrop {
    if (++this.cropsTaken === THREAD_AFTER && this.startHelper) void this.startThread();
    const m = FaceDetector.cropToFrame(win, LANDMARK_INPUT);
    const crop = warpAffine(toRgb(frame), m, LANDMARK_INPUT, LANDMARK_INPUT, this.cropBuf);
    return { toFrame: m, data: crop.data, signature: cropSignature(crop.data, LANDMARK_INPUT) };
  }

  /** 68 landmarks (frame pixels) of the face in a tracking crop (the latest trackingCrop). */
  async landmarksOfCrop(crop: TrackingCrop): Promise<Landmarks> {
    const open = this.models.landmarkRunner;
    this.runner ??=
      this.landmarkRuntime === 'onnx' && open
        ? open(this.landmarkKind).catch(() => null) // tfjs when onnxruntime cannot start
        : Promise.resolve(null);
    const runner = await this.runner;
    const xy = runner ? await runner.run(crop.data) : await this.tfjsLandmarks(crop.data);
    const m = crop.toFrame;
    const landmarks: Landmarks = [];
    for (let i = 0; i < 68; i++)
      landmarks.push(applyAffine(m, [xy[2 * i] * LANDMARK_INPUT, xy[2 * i + 1] * LANDMARK_INPUT]));
    return landmarks;
  }

  /** The landmark net's raw output on a 112·112·3 crop, by face-api on tfjs. */
  private async tfjsLandmarks(px: Uint8Array): Promise<Float32Array> {
    const { api } = this.models;
    const tf = api.tf;
    // float32 input of exactly the net's size: face-api resizes and casts nothing; the net's
    // raw output (runNet) without detectLandmarks' postprocessing — five small tensor ops that
    // are the identity for a square input (outputs are fractions of the 112-pixel crop) — and
    // per-point objects: 15 → 9 ms per call here
    const f32 = this.cropF32;
    for (let i = 0; i < f32.length; i++) f32[i] = px[i];
    const t = tf.tensor3d(f32, [LANDMARK_INPUT, LANDMARK_INPUT, 3], 'float32');
    const net =
      this.landmarkKind === 'full' ? api.nets.faceLandmark68Net : api.nets.faceLandmark68TinyNet;
    let out: any = null;
    try {
      out = net.runNet(new api.NetInput([t]));
      return (await out.data()) as Float32Array;
    } finally {
      t.dispose();
      out?.dispose();
    }
  }

  /** Whether a crop window holds a face (tiny detector on a 160×160 crop; cheap). */
  async hasFace(frame: Frame, win: CropWindow, minScore = 0.3): Promise<boolean> {
    const S = VERIFY_INPUT;
    const m = FaceDetector.cropToFrame({ ...win, size: win.size * 1.4 }, S);
    const crop = warpAffine(toRgb(frame), m, S, S);
    return this.onHelper(
      (h) => h.hasFace(crop, minScore),
      () => this.hasFaceIn(crop, minScore),
    );
  }

  /** On the helper thread when it is up; here when it is not, or when it fails (then for good). */
  private async onHelper<T>(
    remote: (h: DetectorHelper) => Promise<T>,
    local: () => Promise<T>,
  ): Promise<T> {
    const h = this.helper;
    if (h?.ready) {
      try {
        return await remote(h);
      } catch {
        this.helper = null; // a thread that failed once is not asked again
      }
    }
    return local();
  }

  /** The tiny detector on a verification crop (hasFace()). */
  async hasFaceIn(crop: Frame, minScore: number): Promise<boolean> {
    const { api } = this.models;
    const S = VERIFY_INPUT;
    const t = api.tf.tensor3d(crop.data, [S, S, 3], 'int32');
    try {
      const dets: any[] = await api.nets.tinyFaceDetector.locateFaces(
        t,
        new api.TinyFaceDetectorOptions({ inputSize: S, scoreThreshold: minScore }),
      );
      return dets.length > 0;
    } finally {
      t.dispose();
    }
  }

  /** The square crop window the landmark net expects around a detection box. */
  static boxWindow(b: FaceBox): CropWindow {
    return {
      center: [b.x + b.width / 2, b.y + b.height / 2],
      size: Math.max(b.width, b.height),
      angle: 0,
    };
  }
}

/** Side of the crop signature: the 112-pixel RGB crop as 14×14 block means of grey (8×8 blocks). */
export const SIGNATURE_SIDE = 14;

/** Block-mean grey thumbnail of a square RGB crop (side divisible by SIGNATURE_SIDE). */
export function cropSignature(rgb: Uint8Array, side: number): Float32Array {
  const b = side / SIGNATURE_SIDE;
  const out = new Float32Array(SIGNATURE_SIDE * SIGNATURE_SIDE);
  for (let y = 0; y < side; y++) {
    const row = ((y / b) | 0) * SIGNATURE_SIDE;
    for (let x = 0; x < side; x++) {
      const j = 3 * (y * side + x);
      out[row + ((x / b) | 0)] += rgb[j] + rgb[j + 1] + rgb[j + 2];
    }
  }
  const k = 1 / (3 * b * b);
  for (let i = 0; i < out.length; i++) out[i] *= k;
  return out;
}

/** Mean absolute difference (grey levels) of two crop signatures, after removing the mean brightness change. */
export function signatureChange(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] - b[i];
  d /= a.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i] - d);
  return s / a.length;
}
