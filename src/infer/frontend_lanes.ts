// The front-end on every core (Node, CPU): N worker threads ("lanes"), each holding one-thread
// onnxruntime sessions of the front-end graph; a call is cut into N parts (./frontend_split.ts)
// that run at the same time, one per lane.
//
// Why not onnxruntime's own intra-op threads: they split every op and meet after it, and the
// trunk's ops (88×88 down to 3×3, batch 1) are too small for that to pay. Measured on 2 cores
// (T, one session run, ms; `eflip bench infer` has the end-to-end figures):
//   int8 front-end, 29 images: 1 thread 19.4, 2 threads 14.7; 3 images: 2.2 vs 2.6
//   two one-thread runs of 15 and 14 images at the same time, in two threads: ~10 each
// so whole-clip work split over lanes beats intra-op threads, and small batches are faster on
// one thread than on two. (onnxruntime's parallel executor over two copies of the graph in one
// session was slower still: 37 ms for the fp32 clip against 23 with intra-op threads.)
import { availableParallelism } from 'node:os';
import { TaskWorker } from '../data/pool.js';
import { partFrames, placeFeatures, splitFrontend } from './frontend_split.js';
import type { FrontendLanes } from './ort_types.js';
import { ModelLoadError } from './types.js';

/** What a lane is sent (./frontend_lane_worker.ts). */
export type LaneTask =
  | { op: 'open' }
  /** frames (b, C, t, S, S) → features (b, t − 2, d) */
  | { op: 'run'; data: Float32Array; dims: [number, number, number, number] };

/** Lanes at most, whatever the core count: a 29-frame clip cut in more parts gives each lane
 *  too few images, and each lane holds its own sessions (measured on 2 cores only). */
export const MAX_LANES = 8;

/** Lanes for `threads` (default: the cores), capped at MAX_LANES; < 2 means no lanes (also
 *  with EFLIP_ORT_LANES=0). */
export function laneCount(threads?: number): number {
  if (process.env.EFLIP_ORT_LANES === '0') return 1;
  return Math.min(MAX_LANES, threads ?? availableParallelism());
}

class NodeFrontendLanes implements FrontendLanes {
  constructor(
    private readonly workers: TaskWorker<LaneTask>[],
    private readonly featureDim: number,
  ) {}

  get count(): number {
    return this.workers.length;
  }

  get alive(): boolean {
    return this.workers.every((w) => !w.dead);
  }

  async run(
    frames: Float32Array,
    dims: readonly [number, number, number, number],
  ): Promise<Float32Array> {
    const [B, C, T, S] = dims;
    const d = this.featureDim;
    const out = new Float32Array(B * (T - 2) * d);
    const parts = splitFrontend(B, T, this.workers.length);
    // each part to the lane with the fewest calls in flight (a part started ahead may still run)
    const load = this.workers.map((w) => w.pendingCalls);
    await Promise.all(
      parts.map(async (p) => {
        const lane = load.indexOf(Math.min(...load));
        load[lane]++;
        const data = partFrames(frames, dims, p);
        const feats = await this.workers[lane].call<Float32Array>(
          { op: 'run', data, dims: [p.b1 - p.b0, C, p.t1 - p.t0, S] },
          [data.buffer as ArrayBuffer],
        );
        placeFeatures(out, T, d, p, feats);
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Start `count` lanes for a front-end graph; each opens its session before this resolves, so a
 *  graph that onnxruntime refuses fails here (ModelLoadError), with every lane stopped. */
export async function startFrontendLanes(
  frontend: Uint8Array,
  source: string,
  o: { count: number; featureDim: number; spinning: boolean },
): Promise<FrontendLanes> {
  const workers = Array.from(
    { length: o.count },
    () =>
      new TaskWorker<LaneTask>(
        new URL('./frontend_lane_worker.js', import.meta.url),
        'a front-end lane',
        { workerData: { frontend, source, spinning: o.spinning } },
      ),
  );
  try {
    await Promise.all(workers.map((w) => w.call({ op: 'open' })));
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new ModelLoadError(`${source}: front-end lanes did not start: ${(e as Error).message}`);
  }
  return new NodeFrontendLanes(workers, o.featureDim);
}
