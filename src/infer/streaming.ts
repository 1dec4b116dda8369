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
    this.pushed = 0;
    this.windowPushed = false;
  }

  private frame(i: number): Float32Array {
    return i < 0 || i >= this.next ? this.zeros : this.frames.get(i)!;
  }

  // push() runs in two ordered stages: the front-end (the window's features) and the back-end.
  // A window pushed before the previous window's back-end finished (a pipelined caller:
  // pushAll, as `eflip stream` and streamClip run) runs its front-end on a lane of the runner
  // while this thread runs that back-end.
  private frontQueue: Promise<unknown> = Promise.resolve();
  private backQueue: Promise<unknown> = Promise.resolve();
  /** frames pushed (valid ones), and whether any of them ends a window */
  private pushed = 0;
  private windowPushed = false;
  /** pushes that end a window and have not resolved yet */
  private windowsInFlight = 0;

  /** Add one normalised frame (C·S·S values, C-major) and get the latest window's distribution.
   *  The frame is copied at once (the caller may reuse its buffer); calls resolve in order, and
   *  a window pushed before the previous one resolved overlaps with it (its front-end on another
   *  thread where the runner has one: `pushAll` keeps them in flight). `evaluate: false` only
   *  stores the frame (as the frames between windows at hop > 1; its features are computed with
   *  the next evaluated window) and resolves with the latest step — for a frame whose window
   *  nobody reads, e.g. the webcam's repeats of a held frame. */
  push(frame: Float32Array, { evaluate = true }: { evaluate?: boolean } = {}): Promise<StreamStep> {
    if (!(frame instanceof Float32Array) || frame.length !== this.frameSize) {
      const s = this.runner.preprocessing.size;
      return Promise.reject(
        new InferenceInputError(
          `stream frame: expected ${this.frameSize} values (${this.runner.channels}×${s}×${s}), got ${(frame as { length?: unknown } | null)?.length}`,
        ),
      );
    }
    for (let i = 0; i < frame.length; i++) {
      if (!Number.isFinite(frame[i]))
        return Promise.reject(
          new InferenceInputError(`stream frame ${this.pushed}: NaN or infinite pixel`),
        );
    }
    const copy = frame.slice();
    // does it end a window? (fast mode: the window ends one frame back)
    const t = this.pushed++;
    const end = this.mode === 'fast' && t >= 1 ? t - 1 : t;
    const ends = !((!evaluate || end % this.hop !== 0) && this.windowPushed);
    this.windowPushed ||= ends;
    if (ends) this.windowsInFlight++;
    // without lanes there is nothing to overlap: the front-end waits for the previous back-end
    const after = this.laned ? this.frontQueue : Promise.all([this.frontQueue, this.backQueue]);
    const window = after.then(() => this.prepare(copy, ends));
    this.frontQueue = window.catch(() => undefined);
    const run = this.backQueue.then(() => window).then((w) => (w ? this.finish(w) : this.latest()));
    this.backQueue = run.catch(() => undefined);
    if (ends) {
      const done = () => void this.windowsInFlight--;
      run.then(done, done);
    }
    return run;
  }

  /** whether the runner has front-end lanes to overlap a front-end with a back-end */
  private get laned(): boolean {
    return !!this.runner.frontendOnLane && (this.runner.frontendLanes ?? 0) > 0;
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
    // On a lane while an earlier window's back-end runs on this thread (a pipelined caller).
    // Measured (T int8, exact, hop 1, 2 cores): the lane's three images against this thread's
    // back-end alone 3.22 ms per frame, with one of the three images moved here 3.69.
    const onLane =
      this.windowsInFlight > 1 ? await this.runner.frontendOnLane?.(input, jobs.length, 3) : null;
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
    // a later window pushed: its front-end may be on a lane now (see push())
    const besideLane = this.windowsInFlight > 1 && this.laned;
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
  private async prepare(frame: Float32Array, ends: boolean): Promise<Window | null> {
    const t = this.next++;
    this.frames.set(t, frame);
    // kept: the window, its left neighbour, and the frames whose interiors wait for the next window
    this.frames.delete(t - this.window - this.hop - 1);
    this.interior.delete(t - this.window - 1);
    const d = this.runner.featureDim;

    if (this.mode === 'fast' && t >= 1) {
      // the window is [end−N+1, end] of interiors; interior(end) needs frame t = end + 1
      const end = t - 1;
      if (!ends) return null;
      const start = Math.max(0, end - this.window + 1);
      const jobs = this.interiorJobs(start, end);
      if (jobs.length) await this.runFrontend(jobs);
      const win = new Float32Array((end - start + 1) * d);
      for (let i = start; i <= end; i++) win.set(this.interior.get(i)!, (i - start) * d);
      return { win, start, end };
    }
    if (!ends) return null;

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

/** Push every frame with up to hop + 1 in flight (two windows), so that each window's
 *  front-end overlaps the previous window's back-end (see push()); each step goes to `onStep`,
 *  in order. Returns the time spent in push() and waiting for steps (ms), i.e. what the reader
 *  added to the frames' arrival. */
export async function pushAll(
  sr: StreamingLipReader,
  frames: Iterable<Float32Array> | AsyncIterable<Float32Array>,
  onStep: (step: StreamStep) => void,
): Promise<number> {
  let busy = 0;
  const pending: Promise<StreamStep>[] = [];
  const settle = async () => {
    const t0 = performance.now();
    const step = await pending.shift()!;
    busy += performance.now() - t0;
    onStep(step);
  };
  for await (const f of frames) {
    const t0 = performance.now();
    const p = sr.push(f);
    busy += performance.now() - t0;
    p.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    pending.push(p);
    if (pending.length > sr.hop) await settle();
  }
  while (pending.length) await settle();
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
