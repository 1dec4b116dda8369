// Streaming lipreading: frames arrive one at a time; every new frame (every `hop` frames)
// yields the word distribution over the last N frames (default 29 = one LRW clip).
//
// Exactness: the front-end's first conv spans 3 frames (zero-padded at clip edges), the rest
// is per frame. A window [s, t] run as a clip therefore sees, for its first frame, zeros on the
// left, and for its last frame zeros on the right; every frame in between sees its true
// neighbours. So each window costs one-frame front-end evaluations, run in one batch:
//   interior(i) = F[f(i−1), f(i), f(i+1)]   for each frame since the last window; cached and
//                                            reused by the next N−2 windows
//   rightEdge(t)  = F[f(t−1), f(t), 0]
//   leftEdge(s)   = F[0, f(s), f(s+1)]
// plus the back-end on the N cached features. The result equals predicting the window as a clip.
//
// Cost (2 CPU cores, T): the back-end (~170 M MACs per window) and one front-end image (~39 M
// MACs) are both near the FMA peak already, so a window per frame cannot go below ~2.6 ms
// (fast) / ~3.7 ms (exact) of pure arithmetic. `hop` > 1 runs a window every hop frames and the
// front-ends of the frames in between in the same batch: per new frame the back-end costs 1/hop.
// (The reader runs these small batches on one thread: OnnxLipReader's ONE_THREAD_IMAGES.)
import type { FeatureRunner } from './feature_runner.js';
import { topK } from './topk.js';
import { checkClip } from './clip_check.js';
import { InferenceInputError, type Clip, type TopKEntry } from './types.js';

export interface StreamOptions {
  /** frames per window (default 29) */
  window?: number;
  /** frame rate, for times in seconds (default 25) */
  fps?: number;
  /** labels kept per step (default 5) */
  topK?: number;
  /** 'exact' (default): each window equals predicting it as a clip (3 one-frame front-end runs
   *  per new frame). 'fast': one front-end run per frame and one frame of latency: the window
   *  ends at the previous frame and every frame, edges included, sees its true neighbours
   *  (no zero padding), so it is close to, but not equal to, the clip prediction. */
  mode?: 'exact' | 'fast';
  /** frames between evaluated windows (default 1: a window per frame; at most `window`). With
   *  hop h a window ends at every h-th frame (0, h, 2h, ...; fast mode: at frame 0, then frames
   *  0, h, 2h, ... one frame late); push() on the frames in between only stores the frame and
   *  resolves with the latest step (its `frame` says which window it is). Each evaluated window
   *  is still exact (or 'fast') as above. */
  hop?: number;
}

export interface StreamStep {
  /** index of the newest frame */
  frame: number;
  /** seconds at the end of the newest frame */
  time: number;
  /** first frame of the window */
  windowStart: number;
  logProbs: Float32Array;
  top: TopKEntry[];
}

type Job = { key: string; index: number; trip: Float32Array[] };
/** a window's features (end − start + 1 frames × d), ready for the back-end */
type Window = { win: Float32Array; start: number; end: number };

export class StreamingLipReader {
  readonly window: number;
  readonly fps: number;
  readonly mode: 'exact' | 'fast';
  readonly hop: number;
  private k: number;
  private frames = new Map<number, Float32Array>(); // recent raw frames, (C, S, S)
  private interior = new Map<number, Float32Array>(); // cached per-frame features (d)
  private nextInterior = 0; // first frame whose interior feature is not computed yet
  private next = 0;
  private last: StreamStep | null = null;
  private frameSize: number;
  private zeros: Float32Array;

  constructor(
    private runner: FeatureRunner,
    opts: StreamOptions = {},
  ) {
    this.window = opts.window ?? 29;
    if (!Number.isInteger(this.window) || this.window < 1)
      throw new InferenceInputError(`stream window must be a positive integer, got ${opts.window}`);
    this.hop = opts.hop ?? 1;
    if (!Number.isInteger(this.hop) || this.hop < 1 || this.hop > this.window)
      throw new InferenceInputError(
        `stream hop must be an integer from 1 to the window (${this.window}), got ${opts.hop}`,
      );
    this.fps = opts.fps ?? 25;
    this.k = opts.topK ?? 5;
    this.mode = opts.mode ?? 'exact';
    const s = runner.preprocessing.size;
    this.frameSize = runner.channels * s * s;
    this.zeros = new Float32Array(this.frameSize);
  }

  /** Frames pushed so far. */
  get framesSeen(): number {
    return this.next;
  }

  reset(): void {
    this.frames.clear();
    this.interior.clear();
    this.nextInterior = 0;
    this.next = 0;
    this.last = null;
    this.windowPrepared = false;
  }

  private frame(i: number): Float32Array {
    return i < 0 || i >= this.next ? this.zeros : this.frames.get(i)!;
  }

  // push() runs in two ordered stages: the front-end (the window's features) and the back-end.
  // A push made before the previous one resolved (a pipelined caller: `eflip stream`,
  // streamClip) runs its front-end on a lane of the runner while this thread runs the previous
  // push's back-end.
  private frontQueue: Promise<unknown> = Promise.resolve();
  private backQueue: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private windowPrepared = false;

  /** Add one normalised frame (C·S·S values, C-major) and get the latest window's distribution.
   *  The frame is copied at once (the caller may reuse its buffer); calls resolve in order, and
   *  a call made before the previous one resolved overlaps with it (its front-end on another
   *  thread where the runner has one: `pushAll` keeps two in flight). `evaluate: false` only
   *  stores the frame (as the frames between windows at hop > 1; its features are computed with
   *  the next evaluated window) and resolves with the latest step — for a frame whose window
   *  nobody reads, e.g. the webcam's repeats of a held frame. */
  push(frame: Float32Array, { evaluate = true }: { evaluate?: boolean } = {}): Promise<StreamStep> {
    const copy = frame instanceof Float32Array ? frame.slice() : frame;
    this.inFlight++;
    const window = this.frontQueue.then(() => this.prepare(copy, evaluate));
    this.frontQueue = window.catch(() => undefined);
    const run = this.backQueue.then(() => window).then((w) => (w ? this.finish(w) : this.latest()));
    this.backQueue = run.catch(() => undefined);
    const done = () => void this.inFlight--;
    run.then(done, done);
    return run;
  }

  private latest(): StreamStep {
    if (!this.last) throw new InferenceInputError('stream: no window has been evaluated yet');
    return this.last;
  }

  /** Interior jobs for frames [from, to] not computed yet (each needs its right neighbour). */
  private interiorJobs(from: number, to: number): Job[] {
    const jobs: Job[] = [];
    for (let i = Math.max(from, this.nextInterior); i <= to; i++)
      jobs.push({
        key: 'interior',
        index: i,
        trip: [this.frame(i - 1), this.frame(i), this.frame(i + 1)],
      });
    return jobs;
  }

  /** One front-end batch for the jobs → their features, by job. */
  private async runFrontend(jobs: Job[]): Promise<Float32Array[]> {
    const C = this.runner.channels;
    const plane = this.frameSize / C;
    const input = new Float32Array(jobs.length * 3 * this.frameSize);
    jobs.forEach((j, b) => {
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < 3; k++)
          input.set(j.trip[k].subarray(c * plane, (c + 1) * plane), ((b * C + c) * 3 + k) * plane);
      }
    });
    // on a lane while an earlier push's back-end runs on this thread (a pipelined caller)
    const onLane =
      this.inFlight > 1 ? await this.runner.frontendOnLane?.(input, jobs.length, 3) : null;
    const feats = onLane ?? (await this.runner.frontend(input, jobs.length, 3));
    const d = this.runner.featureDim;
    const out = jobs.map((_, b) => feats.subarray(b * d, (b + 1) * d));
    jobs.forEach((j, b) => {
      if (j.key !== 'interior') return;
      this.interior.set(j.index, out[b].slice());
      this.nextInterior = Math.max(this.nextInterior, j.index + 1); // only once computed
    });
    return out;
  }

  private async finish({ win, start, end }: Window): Promise<StreamStep> {
    // a later push waiting: its front-end may be on a lane now (see push())
    const besideLane = this.inFlight > 1 && !!this.runner.frontendOnLane;
    const logProbs = await this.runner.backend(win, 1, end - start + 1, { besideLane });
    this.last = {
      frame: end,
      time: (end + 1) / this.fps,
      windowStart: start,
      logProbs,
      top: topK(logProbs, this.runner.labels, this.k),
    };
    return this.last;
  }

  /** The front-end stage: store the frame and, when it ends a window, the window's features. */
  private async prepare(given: Float32Array, evaluate: boolean): Promise<Window | null> {
    if (!(given instanceof Float32Array) || given.length !== this.frameSize) {
      const s = this.runner.preprocessing.size;
      throw new InferenceInputError(
        `stream frame: expected ${this.frameSize} values (${this.runner.channels}×${s}×${s}), got ${given?.length}`,
      );
    }
    for (let i = 0; i < given.length; i++) {
      if (!Number.isFinite(given[i]))
        throw new InferenceInputError(`stream frame ${this.next}: NaN or infinite pixel`);
    }
    const frame = given;
    const t = this.next++;
    this.frames.set(t, frame);
    // kept: the window, its left neighbour, and the frames whose interiors wait for the next window
    this.frames.delete(t - this.window - this.hop - 1);
    this.interior.delete(t - this.window - 1);
    const d = this.runner.featureDim;

    if (this.mode === 'fast' && t >= 1) {
      // the window is [end−N+1, end] of interiors; interior(end) needs frame t = end + 1
      const end = t - 1;
      if ((!evaluate || end % this.hop !== 0) && this.windowPrepared) return null;
      this.windowPrepared = true;
      const start = Math.max(0, end - this.window + 1);
      const jobs = this.interiorJobs(start, end);
      if (jobs.length) await this.runFrontend(jobs);
      const win = new Float32Array((end - start + 1) * d);
      for (let i = start; i <= end; i++) win.set(this.interior.get(i)!, (i - start) * d);
      return { win, start, end };
    }
    if ((!evaluate || t % this.hop !== 0) && this.windowPrepared) return null;
    this.windowPrepared = true;

    // Window [s, t]: left edge, interiors, right edge.
    const s = Math.max(0, t - this.window + 1);
    // interiors s+1 .. t−1 (s = 0: its left edge is interior(0)); fast mode's frame 0: none
    const jobs = this.mode === 'fast' ? [] : this.interiorJobs(s === 0 ? 0 : s + 1, t - 1);
    jobs.push({
      key: 'right',
      index: t,
      trip: [s < t ? this.frame(t - 1) : this.zeros, frame, this.zeros],
    });
    const needLeft = s > 0 && s < t;
    if (needLeft)
      jobs.push({
        key: 'left',
        index: s,
        trip: [this.zeros, this.frame(s), this.frame(s + 1)],
      });
    const feats = await this.runFrontend(jobs);
    const got = new Map(jobs.map((j, b) => [j.key, feats[b]]));
    const n = t - s + 1;
    const win = new Float32Array(n * d);
    for (let i = s; i < t; i++) {
      const f = i === s && needLeft ? got.get('left')! : this.interior.get(i)!;
      win.set(f, (i - s) * d);
    }
    win.set(got.get('right')!, (n - 1) * d);
    return { win, start: s, end: t };
  }
}

export interface TimelineEntry {
  frame: number;
  time: number;
  windowStart: number;
  word: string;
  probability: number;
  top: { label: string; probability: number }[];
}

/** Add a step to a timeline ('fast' mode reports frame 0 twice, and with hop > 1 push() repeats
 *  the latest step between windows: a step for the same frame replaces the entry). */
export function appendTimeline(timeline: TimelineEntry[], step: StreamStep): void {
  if (timeline.length && timeline[timeline.length - 1].frame === step.frame) timeline.pop();
  timeline.push({
    frame: step.frame,
    time: step.time,
    windowStart: step.windowStart,
    word: step.top[0].label,
    probability: step.top[0].probability,
    top: step.top.map((e) => ({ label: e.label, probability: e.probability })),
  });
}

/** Push every frame with two in flight, so that each frame's front-end overlaps the previous
 *  window's back-end (see push()); each step goes to `onStep`, in order. Returns the time spent
 *  in push() and waiting for steps (ms), i.e. what the reader added to the frames' arrival. */
export async function pushAll(
  sr: StreamingLipReader,
  frames: Iterable<Float32Array> | AsyncIterable<Float32Array>,
  onStep: (step: StreamStep) => void,
): Promise<number> {
  let busy = 0;
  let prev: Promise<StreamStep> | null = null;
  for await (const f of frames) {
    const t0 = performance.now();
    const p = sr.push(f);
    p.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const step = prev && (await prev);
    busy += performance.now() - t0;
    if (step) onStep(step);
    prev = p;
  }
  if (prev) {
    const t0 = performance.now();
    const step = await prev;
    busy += performance.now() - t0;
    onStep(step);
  }
  return busy;
}

/** A whole clip through the streaming reader → one timeline entry per window (per frame at hop 1). */
export async function streamClip(
  runner: FeatureRunner,
  clip: Clip,
  opts: StreamOptions & { onStep?: (s: StreamStep) => void } = {},
): Promise<TimelineEntry[]> {
  // the checks of predictClip: a clip whose data does not hold its frames is refused
  checkClip(clip, runner.channels, runner.preprocessing.size);
  const sr = new StreamingLipReader(runner, { fps: clip.fps, ...opts });
  const per = clip.size * clip.size;
  const out: TimelineEntry[] = [];
  function* frames() {
    for (let t = 0; t < clip.frames; t++) {
      const f = new Float32Array(clip.channels * per);
      for (let c = 0; c < clip.channels; c++)
        f.set(
          clip.data.subarray((c * clip.frames + t) * per, (c * clip.frames + t + 1) * per),
          c * per,
        );
      yield f;
    }
  }
  await pushAll(sr, frames(), (step) => {
    opts.onStep?.(step);
    appendTimeline(out, step);
  });
  return out;
}

export interface TimelineSegment {
  word: string;
  start: number;
  end: number;
  /** highest probability within the segment */
  probability: number;
}

/** Merge consecutive timeline entries with the same top word (and probability ≥ minProb). An
 *  entry covers the frames since the previous entry (one frame, or `hop` frames). */
export function timelineSegments(
  entries: TimelineEntry[],
  fps: number,
  minProb = 0,
): TimelineSegment[] {
  const segs: TimelineSegment[] = [];
  let prev: TimelineEntry | undefined;
  for (const e of entries) {
    const start = prev ? prev.time : e.time - 1 / fps;
    prev = e;
    if (e.probability < minProb) continue;
    const last = segs[segs.length - 1];
    if (last && last.word === e.word && Math.abs(last.end - start) < 1e-6) {
      last.end = e.time;
      last.probability = Math.max(last.probability, e.probability);
    } else segs.push({ word: e.word, start, end: e.time, probability: e.probability });
  }
  return segs;
}
