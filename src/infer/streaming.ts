// Streaming lipreading: frames arrive one at a time; every new frame yields the word
// distribution over the last N frames (default 29 = one LRW clip).
//
// Exactness: the front-end's first conv spans 3 frames (zero-padded at clip edges), the rest
// is per frame. A window [s, t] run as a clip therefore sees, for its first frame, zeros on the
// left, and for its last frame zeros on the right; every frame in between sees its true
// neighbours. So each new frame t costs three one-frame front-end evaluations in one batch:
//   interior(t−1) = F[f(t−2), f(t−1), f(t)]   cached and reused by the next N−2 windows
//   rightEdge(t)  = F[f(t−1), f(t), 0]
//   leftEdge(s)   = F[0, f(s), f(s+1)]
// plus the back-end on the N cached features. The result equals predicting the window as a clip.
import type { FeatureRunner } from './feature_runner.js';
import { topK } from './topk.js';
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

export class StreamingLipReader {
  readonly window: number;
  readonly fps: number;
  readonly mode: 'exact' | 'fast';
  private k: number;
  private frames = new Map<number, Float32Array>(); // last window+1 raw frames, (C, S, S)
  private interior = new Map<number, Float32Array>(); // cached per-frame features (d)
  private next = 0;
  private frameSize: number;
  private zeros: Float32Array;

  constructor(
    private runner: FeatureRunner,
    opts: StreamOptions = {},
  ) {
    this.window = opts.window ?? 29;
    if (!Number.isInteger(this.window) || this.window < 1)
      throw new InferenceInputError(`stream window must be a positive integer, got ${opts.window}`);
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
    this.next = 0;
  }

  private frame(i: number): Float32Array {
    return i < 0 || i >= this.next ? this.zeros : this.frames.get(i)!;
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** Add one normalised frame (C·S·S values, C-major) and get the window's distribution.
   *  The frame is copied (the caller may reuse its buffer); overlapping calls run in order. */
  push(frame: Float32Array): Promise<StreamStep> {
    const run = this.queue.then(() => this.step(frame));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async step(given: Float32Array): Promise<StreamStep> {
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
    const frame = given.slice();
    const t = this.next++;
    this.frames.set(t, frame);
    this.frames.delete(t - this.window - 1);
    const s = Math.max(0, t - this.window + 1);

    // Triplets to run: [left, centre, right] frames (zeros outside the window / the stream).
    const jobs: { key: string; trip: Float32Array[] }[] = [];
    let needLeft = false;
    if (this.mode === 'fast') {
      // interior(t−1) now that t is known; the window is [t−N, t−1] of interiors
      jobs.push(
        t >= 1
          ? { key: 'interior', trip: [this.frame(t - 2), this.frame(t - 1), frame] }
          : { key: 'right', trip: [this.zeros, frame, this.zeros] },
      );
    } else {
      if (t >= 1)
        jobs.push({ key: 'interior', trip: [this.frame(t - 2), this.frame(t - 1), frame] });
      jobs.push({
        key: 'right',
        trip: [s < t ? this.frame(t - 1) : this.zeros, frame, this.zeros],
      });
      needLeft = s < t && !(s === 0 && t >= 1); // s = 0: its left edge is interior(0)
      if (needLeft)
        jobs.push({ key: 'left', trip: [this.zeros, this.frame(s), this.frame(s + 1)] });
    }
    const C = this.runner.channels;
    const plane = this.frameSize / C;
    const input = new Float32Array(jobs.length * 3 * this.frameSize);
    jobs.forEach((j, b) => {
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < 3; k++)
          input.set(j.trip[k].subarray(c * plane, (c + 1) * plane), ((b * C + c) * 3 + k) * plane);
      }
    });
    const feats = await this.runner.frontend(input, jobs.length, 3);
    const d = this.runner.featureDim;
    const got = new Map(jobs.map((j, b) => [j.key, feats.subarray(b * d, (b + 1) * d)]));
    if (got.has('interior')) this.interior.set(t - 1, got.get('interior')!.slice());
    this.interior.delete(t - this.window - 1);

    if (this.mode === 'fast' && t >= 1) {
      const end = t - 1;
      const start = Math.max(0, end - this.window + 1);
      const win = new Float32Array((end - start + 1) * d);
      for (let i = start; i <= end; i++) win.set(this.interior.get(i)!, (i - start) * d);
      const logProbs = await this.runner.backend(win, 1, end - start + 1);
      return {
        frame: end,
        time: (end + 1) / this.fps,
        windowStart: start,
        logProbs,
        top: topK(logProbs, this.runner.labels, this.k),
      };
    }

    // Window features [s..t]: left edge, interiors, right edge.
    const n = t - s + 1;
    const win = new Float32Array(n * d);
    for (let i = s; i < t; i++) {
      const f = i === s && needLeft ? got.get('left')! : this.interior.get(i)!;
      win.set(f, (i - s) * d);
    }
    win.set(got.get('right')!, (n - 1) * d);
    const logProbs = await this.runner.backend(win, 1, n);
    return {
      frame: t,
      time: (t + 1) / this.fps,
      windowStart: s,
      logProbs,
      top: topK(logProbs, this.runner.labels, this.k),
    };
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

/** Add a step to a timeline ('fast' mode reports frame 0 twice: the later one replaces it). */
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

/** A whole clip through the streaming reader → one timeline entry per frame. */
export async function streamClip(
  runner: FeatureRunner,
  clip: Clip,
  opts: StreamOptions & { onStep?: (s: StreamStep) => void } = {},
): Promise<TimelineEntry[]> {
  const sr = new StreamingLipReader(runner, { fps: clip.fps, ...opts });
  const per = clip.size * clip.size;
  const out: TimelineEntry[] = [];
  for (let t = 0; t < clip.frames; t++) {
    const f = new Float32Array(clip.channels * per);
    for (let c = 0; c < clip.channels; c++)
      f.set(
        clip.data.subarray((c * clip.frames + t) * per, (c * clip.frames + t + 1) * per),
        c * per,
      );
    const step = await sr.push(f);
    opts.onStep?.(step);
    appendTimeline(out, step);
  }
  return out;
}

export interface TimelineSegment {
  word: string;
  start: number;
  end: number;
  /** highest probability within the segment */
  probability: number;
}

/** Merge consecutive timeline entries with the same top word (and probability ≥ minProb). */
export function timelineSegments(
  entries: TimelineEntry[],
  fps: number,
  minProb = 0,
): TimelineSegment[] {
  const segs: TimelineSegment[] = [];
  for (const e of entries) {
    if (e.probability < minProb) continue;
    const last = segs[segs.length - 1];
    const start = e.time - 1 / fps;
    if (last && last.word === e.word && Math.abs(last.end - start) < 1e-6) {
      last.end = e.time;
      last.probability = Math.max(last.probability, e.probability);
    } else segs.push({ word: e.word, start, end: e.time, probability: e.probability });
  }
  return segs;
}
