// The front-end on every core (Node, CPU): N worker threads ("lanes"), each holding one-thread
// onnxruntime sessions of the front-end graph; a call is cut into N parts (./frontend_split.ts)
// that run at the same time, one per lane (./frontend_lane.ts; the browser's: ./web_lanes.ts).
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
import { envSwitch } from '../env_switch.js';
import { MAX_LANES, openLanes, type LaneTask } from './frontend_lane.js';
import type { FrontendLanes } from './ort_types.js';

/** Lanes for `threads` (default: the cores), at most one per core and MAX_LANES; < 2 means no
 *  lanes (also with EFLIP_ORT_LANES=0). More lanes than cores only cost: T float32 batch 1 on 2
 *  cores, 2 / 3 / 4 / 8 lanes: 22.7 / 26.9 / 23.7 / 26.5 ms/clip, ~60 MiB of sessions per lane. */
export function laneCount(threads?: number): number {
  if (envSwitch('EFLIP_ORT_LANES', ['0', '1']) === '0') return 1;
  const cores = availableParallelism();
  return Math.min(MAX_LANES, cores, threads ?? cores);
}

/** Start `count` lanes (worker threads) for a front-end graph; see openLanes. */
export function startFrontendLanes(
  frontend: Uint8Array,
  source: string,
  o: { count: number; featureDim: number; spinning: boolean },
): Promise<FrontendLanes> {
  const lanes = Array.from(
    { length: o.count },
    () =>
      new TaskWorker<LaneTask>(
        new URL('./frontend_lane_worker.js', import.meta.url),
        'a front-end lane',
        { workerData: { frontend, source, spinning: o.spinning } },
      ),
  );
  return openLanes(lanes, source, o.featureDim);
}
