// Main-face tracking over a video: full detection every `every` frames (and whenever the face
// is lost), landmark tracking in between — the landmark net re-run on a crop window predicted
// from the previous frame's landmarks (rotation-compensated), verified by a cheap detector
// pass on that crop (also when a scheduled detection misses a face that tracking still
// holds, e.g. tilted beyond the detectors' ±25°). The main face is the largest / most central one at the first detection,
// then the one overlapping the tracked face most. When a face is found after frames without
// one, those frames are tracked backwards from it.
import { type FaceBox, type CropWindow, FaceDetector, signatureChange } from './detector.js';
import { type Point, mean } from './geometry.js';
import { type Frame, type FrameStack, frameAt } from './image.js';
import { RoiError } from './errors.js';
import { type Landmarks, rollAngle, shapeSize } from './landmarks.js';

/**
 * Largest change of the tracked crop (grey levels, mean over a 14×14 thumbnail, brightness
 * change removed) that needs no detector check. Tracked faces measured 1-4 on the benchmark's
 * moving, zooming, rolling clip; a blank frame or another scene is 20+.
 */
export const CROP_CHANGE = 8;

/**
 * Default detection interval: a full detection once a second at 25 fps. Tracking between
 * detections is verified whenever the crop changes (CROP_CHANGE), so a lost face is noticed
 * on the frame it goes; detections recalibrate the window and pick up a new main face. Measured
 * (docs/roi.md): every 25 frames costs ~35 % less per frame than every 5 and tracks the
 * benchmark's mouth closer (each detection restarts the landmarks from a detector box).
 */
export const DETECT_EVERY = 25;

/**
 * Frames read ahead of tracking when the detector has a helper thread: a detection's head
 * start. A detection costs ~2 landmark-net calls at 256×256 and ~5-6 at 640×480 and up (the
 * detector's input grows to 416, the landmark crop stays 112), so 8 frames hide it at every
 * size; 8 frames of 1080p are ~50 MB.
 */
const LOOKAHEAD = 8;

export type FrameSource = 'detect' | 'track' | 'none';

export interface FrameObservation {
  /** 68 landmarks in frame pixels, null when no face was found in this frame */
  landmarks: Landmarks | null;
  /** detector box on detection frames; the tracking crop's axis-aligned extent otherwise */
  box: FaceBox | null;
  source: FrameSource;
  /** faces the detector saw (detection frames only, else 0) */
  faces: number;
}

export interface TrackOptions {
  /** run the full detector every this many frames (1 = every frame; default DETECT_EVERY) */
  every?: number;
  /** while no face is tracked, try a detection every this many frames (default `every`; live
   *  use retries sooner than it re-detects a tracked face, so a face that came back is found quickly) */
  retryEvery?: number;
  /** frames read ahead of tracking while the detector has a helper thread, so that a scheduled
   *  detection starts that many frames before its frame is tracked (default LOOKAHEAD, 8; live
   *  use takes fewer: each frame read ahead is a frame of latency) */
  lookahead?: number;
  /** verify tracked crops with the tiny detector (default true) */
  verify?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** each frame's forward observation as soon as it is settled (live use: the browser's camera);
   *  a later re-detection may still fill earlier frames backwards in the result */
  onFrame?: (t: number, obs: FrameObservation, frame: Frame) => void | Promise<void>;
}

export interface TrackResult {
  frames: FrameObservation[];
  width: number;
  height: number;
  /** most faces seen in one detection frame */
  maxFaces: number;
  detections: number;
  tracked: number;
  /** tracked frames whose crop changed enough to be checked by the detector */
  verified: number;
}

/** How a detector box relates to the landmarks inside it, in units of the face size. */
interface Calibration {
  ratio: number;
  offset: Point;
}

function rotate(p: Point, a: number): Point {
  const c = Math.cos(a),
    s = Math.sin(a);
  return [c * p[0] - s * p[1], s * p[0] + c * p[1]];
}

function calibrate(win: CropWindow, lm: Landmarks): Calibration {
  const s = shapeSize(lm),
    c = mean(lm),
    a = rollAngle(lm);
  return {
    ratio: win.size / s,
    offset: rotate([(win.center[0] - c[0]) / s, (win.center[1] - c[1]) / s], -a),
  };
}

/** The crop window a face with these landmarks would get from the detector, rotated upright. */
function windowFor(lm: Landmarks, cal: Calibration): CropWindow {
  const s = shapeSize(lm),
    c = mean(lm),
    a = rollAngle(lm);
  const off = rotate(cal.offset, a);
  return { center: [c[0] + off[0] * s, c[1] + off[1] * s], size: cal.ratio * s, angle: a };
}

function windowBox(w: CropWindow, score: number): FaceBox {
  const h = (w.size / 2) * (Math.abs(Math.cos(w.angle)) + Math.abs(Math.sin(w.angle)));
  return { x: w.center[0] - h, y: w.center[1] - h, width: 2 * h, height: 2 * h, score };
}

function iou(a: FaceBox, b: FaceBox): number {
  const x0 = Math.max(a.x, b.x),
    y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width),
    y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** Main-face score: area, discounted by distance from the frame centre. */
export function mainFaceScore(b: FaceBox, width: number, height: number): number {
  const dx = (b.x + b.width / 2 - width / 2) / width,
    dy = (b.y + b.height / 2 - height / 2) / height;
  return (b.width * b.height) / (1 + 4 * Math.hypot(dx, dy));
}

export function pickMainFace(
  boxes: FaceBox[],
  width: number,
  height: number,
  previous: FaceBox | null,
): FaceBox {
  if (previous) {
    let best = boxes[0],
      bestIou = -1;
    for (const b of boxes) {
      const v = iou(b, previous);
      if (v > bestIou) {
        bestIou = v;
        best = b;
      }
    }
    if (bestIou >= 0.2) return best;
  }
  return boxes.reduce((a, b) =>
    mainFaceScore(b, width, height) > mainFaceScore(a, width, height) ? b : a,
  );
}

async function* stackFrames(v: FrameStack): AsyncGenerator<Frame> {
  for (let t = 0; t < v.frames; t++) yield frameAt(v, t);
}

/**
 * Track the main face through a video held in memory or streamed frame by frame (only the
 * last `every` frames are kept, for tracking backwards after a re-detection).
 */
export async function trackMainFace(
  source: FrameStack | AsyncIterable<Frame>,
  det: FaceDetector,
  o: TrackOptions = {},
): Promise<TrackResult> {
  const every = Math.max(1, Math.floor(o.every ?? DETECT_EVERY));
  const retryEvery = Math.max(1, Math.floor(o.retryEvery ?? every));
  const verify = o.verify ?? true;
  const aheadFrames = Math.max(0, Math.floor(o.lookahead ?? LOOKAHEAD));
  const total = 'frames' in source && typeof source.frames === 'number' ? source.frames : 0;
  const input: AsyncIterable<Frame> =
    'data' in source ? stackFrames(source as FrameStack) : (source as AsyncIterable<Frame>);
  const obs: FrameObservation[] = [];
  const recent = new Map<number, Frame>();
  let width = 0,
    height = 0;
  let maxFaces = 0,
    detections = 0,
    tracked = 0,
    verified = 0;
  let cal: Calibration | null = null;
  let prevBox: FaceBox | null = null; // main face's last box (for choosing among several)

  // landmarks from a detector box: one pass upright, a second one rotated when the face is tilted
  const landmarksFromBox = async (f: Frame, b: FaceBox): Promise<Landmarks> => {
    const win = FaceDetector.boxWindow(b);
    let lm = await det.landmarksIn(f, win);
    const a = rollAngle(lm);
    if (Math.abs(a) > (8 * Math.PI) / 180) lm = await det.landmarksIn(f, { ...win, angle: a });
    return lm;
  };
  // the crop signature of the last tracked frame: a tracked crop that still looks like it needs
  // no detector check; one that changed (the face left, a cut, a blank frame) is verified
  let lastSig: Float32Array | null = null;
  // `check`: verify whatever the crop did (the detector disagrees with the track)
  const trackStep = async (t: number, from: Landmarks, check = false): Promise<boolean> => {
    const f = recent.get(t)!;
    const win = windowFor(from, cal!);
    const crop = det.trackingCrop(f, win);
    const changed = check || !lastSig || signatureChange(crop.signature, lastSig) > CROP_CHANGE;
    lastSig = crop.signature;
    // a changed crop's check runs beside the landmark net (on the detector's helper thread
    // where it has one); the landmarks are kept only when it finds the face
    const face = verify && changed ? det.hasFace(f, win) : null;
    face?.catch(() => {}); // awaited below, unless the net throws first
    const landmarks = await det.landmarksOfCrop(crop);
    if (face) {
      verified++;
      if (!(await face)) {
        lastSig = null;
        return false;
      }
    }
    obs[t] = { landmarks, box: windowBox(win, 0), source: 'track', faces: 0 };
    prevBox = windowBox({ ...win, angle: 0 }, 0);
    tracked++;
    return true;
  };

  const settled = async (t: number, f: Frame) => {
    o.onProgress?.(t + 1, total);
    await o.onFrame?.(t, obs[t], f);
  };
  let lastDetect = -Infinity;
  let lastGood = -1; // last frame with landmarks
  // with a helper thread, frames are read LOOKAHEAD ahead and the next scheduled detection
  // starts there while the landmark chain runs here (detect() of a frame is the same whenever
  // it runs; one the schedule then skips, e.g. after a lost track, is left unused)
  const ahead: Frame[] = [];
  const early = new Map<number, Promise<FaceBox[]>>();
  const detectAt = (t: number, f: Frame): Promise<FaceBox[]> => {
    const p = early.get(t) ?? det.detect(f);
    for (const k of early.keys()) if (k <= t) early.delete(k);
    return p;
  };
  const it = input[Symbol.asyncIterator]();
  let ended = false;
  let t = -1;
  try {
    for (;;) {
      const lookahead = det.parallel ? aheadFrames : 0; // once the thread is up
      while (!ended && ahead.length <= lookahead) {
        const r = await it.next();
        if (r.done) ended = true;
        else ahead.push(r.value);
      }
      const f = ahead.shift();
      if (!f) break;
      t++;
      const due = lastDetect + every;
      if (due > t && due - t <= ahead.length && !early.has(due)) {
        const p = det.detect(ahead[due - t - 1]);
        p.catch(() => {}); // awaited when its frame comes (or left unused)
        early.set(due, p);
      }
      await trackFrame(t, f);
    }
  } finally {
    if (!ended) await it.return?.();
  }
  return { frames: obs, width, height, maxFaces, detections, tracked, verified };

  async function trackFrame(t: number, f: Frame): Promise<void> {
    if (t === 0) {
      width = f.width;
      height = f.height;
    } else if (f.width !== width || f.height !== height)
      throw new RoiError(
        'bad-args',
        `frame ${t} is ${f.width}×${f.height}, earlier frames ${width}×${height}`,
      );
    recent.set(t, f);
    recent.delete(t - every - 1);
    // backward tracking (below) only revisits frames after the last one with landmarks, so no
    // older frame is held (at 1080p each is 6 MB: the last `every` + 1 of them were 160 MB)
    for (const k of recent.keys()) if (k <= lastGood) recent.delete(k);
    obs.push({ landmarks: null, box: null, source: 'none', faces: 0 });
    const prev = t > 0 ? obs[t - 1].landmarks : null;
    let trackFailed = false;
    if (prev && t - lastDetect < every && cal) {
      if (await trackStep(t, prev)) {
        lastGood = t;
        await settled(t, f);
        return;
      }
      trackFailed = true; // lost: detect now
    }
    if (!prev && t - lastDetect < retryEvery) {
      await settled(t, f);
      return;
    } // face lost: retry detection every `retryEvery` frames
    const boxes = await detectAt(t, f);
    detections++;
    lastDetect = t;
    maxFaces = Math.max(maxFaces, boxes.length);
    // the detector found faces, but none where we track one: keep the tracked face while it is still there
    const onlyOthers =
      boxes.length > 0 &&
      prev &&
      prevBox &&
      !trackFailed &&
      Math.max(...boxes.map((b) => iou(b, prevBox!))) < 0.2;
    if (onlyOthers && cal && (await trackStep(t, prev!, true))) {
      obs[t].faces = boxes.length + 1;
      maxFaces = Math.max(maxFaces, boxes.length + 1);
      lastGood = t;
    } else if (boxes.length) {
      const b = pickMainFace(boxes, width, height, prevBox);
      const lm = await landmarksFromBox(f, b);
      cal = calibrate(FaceDetector.boxWindow(b), lm);
      lastSig = null; // the next tracked crop (forwards or backwards) is verified
      obs[t] = { landmarks: lm, box: b, source: 'detect', faces: boxes.length };
      prevBox = b;
      // frames skipped while the face was lost: track backwards from this detection
      for (let u = t - 1; u > lastGood && !obs[u].landmarks && recent.has(u); u--) {
        if (!(await trackStep(u, obs[u + 1].landmarks!))) break;
      }
      lastSig = null;
      lastGood = t;
    } else if (prev && cal && !trackFailed && !onlyOthers && (await trackStep(t, prev, true))) {
      // the detector missed a face we are tracking (e.g. tilted beyond its range): keep tracking
      lastGood = t;
    }
    await settled(t, f);
  }
}
