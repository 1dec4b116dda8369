// Front-end lanes, the parts shared by Node (worker threads, ./frontend_lanes.ts) and the browser
// (Web Workers, ./web_lanes.ts): what a lane is sent, what a lane does with it (one-thread
// sessions of the front-end graph, pinned per input shape as OnnxLipReader pins its own), and
// the caller's side that cuts a call into parts (./frontend_split.ts) and runs them at once.
import { pinDimensions } from '../io/onnx/static_dims.js';
import { partFrames, placeFeatures, splitFrontend } from './frontend_split.js';
import { MAX_PINNED_SHAPES } from './onnx_lipreader.js';
import { openSession, runFloat, type OpenedSession } from './ort_session.js';
import type { FrontendLanes, OrtPlatform } from './ort_types.js';
import { ModelLoadError } from './types.js';

/** Lanes at most, whatever the core count: a 29-frame clip cut in more parts gives each lane
 *  too few images, and each lane holds its own sessions (measured on 2 cores only). */
export const MAX_LANES = 8;

/** What a lane is sent. */
export type LaneTask =
  /** open the session (a Web Worker is sent its graph here; a Node lane has it as workerData) */
  | { op: 'open'; frontend?: Uint8Array; source?: string; wasmPaths?: string }
  /** frames (b, C, t, S, S) → features (b, t − 2, d) */
  | { op: 'run'; data: Float32Array; dims: [number, number, number, number] };

/** The caller's handle on one lane (a worker answering LaneTasks). */
export interface LaneHandle {
  call<R>(task: LaneTask, transfer?: ArrayBuffer[]): Promise<R>;
  readonly pendingCalls: number;
  readonly dead: boolean;
  terminate(): Promise<void>;
}

/** Inside a lane: the answer to each task, on one-thread sessions of `platform`. */
export function laneRunner(
  platform: Promise<OrtPlatform>,
  frontend: Uint8Array,
  source: string,
): (task: LaneTask) => Promise<Float32Array | boolean> {
  const sessions = new Map<string, Promise<OpenedSession>>();
  const session = async (key: string, bytes: () => Uint8Array) => {
    let s = sessions.get(key);
    if (!s) {
      s = platform.then((p) => openSession(p, bytes(), `${source} (front-end lane)`, 1));
      sessions.set(key, s);
      s.catch(() => sessions.delete(key));
    }
    return (await s).session;
  };
  return async (task) => {
    if (task.op === 'open') return !!(await session('any', () => frontend));
    const [b, C, t, S] = task.dims;
    const key = `${b}x${t}`;
    const pinned = sessions.has(key) || sessions.size <= MAX_PINNED_SHAPES;
    const s = pinned
      ? await session(key, () => pinDimensions(frontend, { batch: b, time: t }, source))
      : await session('any', () => frontend);
    return (await runFloat(await platform, s, 'frames', task.data, [b, C, t, S, S], 'features'))
      .data;
  };
}

class LanePool implements FrontendLanes {
  constructor(
    private readonly lanes: LaneHandle[],
    private readonly featureDim: number,
  ) {}

  get count(): number {
    return this.lanes.length;
  }

  get alive(): boolean {
    return this.lanes.every((w) => !w.dead);
  }

  async run(
    frames: Float32Array,
    dims: readonly [number, number, number, number],
    lanes = this.lanes.length,
  ): Promise<Float32Array> {
    const [B, C, T, S] = dims;
    const d = this.featureDim;
    const out = new Float32Array(B * (T - 2) * d);
    // each part to the lane with the fewest calls in flight
    const load = this.lanes.map((w) => w.pendingCalls);
    await Promise.all(
      splitFrontend(B, T, Math.min(lanes, this.lanes.length)).map(async (p) => {
        const lane = load.indexOf(Math.min(...load));
        load[lane]++;
        const data = partFrames(frames, dims, p);
        const feats = await this.lanes[lane].call<Float32Array>(
          { op: 'run', data, dims: [p.b1 - p.b0, C, p.t1 - p.t0, S] },
          [data.buffer as ArrayBuffer],
        );
        placeFeatures(out, T, d, p, feats);
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((w) => w.terminate()));
  }
}

/** Lanes over started workers, once each has opened its session; a graph that onnxruntime
 *  refuses (or a worker that cannot start) fails here (ModelLoadError), every worker stopped. */
export async function openLanes(
  lanes: LaneHandle[],
  source: string,
  featureDim: number,
  open: LaneTask = { op: 'open' },
): Promise<FrontendLanes> {
  try {
    await Promise.all(lanes.map((w) => w.call(open)));
  } catch (e) {
    await Promise.all(lanes.map((w) => w.terminate()));
    throw new ModelLoadError(`${source}: front-end lanes did not start: ${(e as Error).message}`);
  }
  return new LanePool(lanes, featureDim);
}
