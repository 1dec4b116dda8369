// One lane of ./frontend_lanes.ts: a worker thread with one-thread onnxruntime sessions of the
// front-end graph (pinned to each input shape it is sent, as OnnxLipReader pins its own), running
// the parts it receives in order.
import { workerData } from 'node:worker_threads';
import { answerTasks } from '../data/pool.js';
import { pinDimensions } from '../io/onnx/static_dims.js';
import { MAX_PINNED_SHAPES } from './onnx_lipreader.js';
import { nodePlatform } from './ort_node.js';
import { openSession, runFloat, type OpenedSession } from './ort_session.js';
import type { LaneTask } from './frontend_lanes.js';

interface LaneData {
  frontend: Uint8Array;
  source: string;
  spinning: boolean;
}

if (workerData && (workerData as Partial<LaneData>).frontend instanceof Uint8Array) {
  const { frontend, source, spinning } = workerData as LaneData;
  const platform = nodePlatform('cpu', 1, spinning);
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
  answerTasks<LaneTask, Float32Array | boolean>(
    async (task) => {
      if (task.op === 'open') return !!(await session('any', () => frontend));
      const [b, C, t, S] = task.dims;
      const key = `${b}x${t}`;
      const pinned = sessions.has(key) || sessions.size <= MAX_PINNED_SHAPES;
      const s = pinned
        ? await session(key, () => pinDimensions(frontend, { batch: b, time: t }, source))
        : await session('any', () => frontend);
      const out = await runFloat(
        await platform,
        s,
        'frames',
        task.data,
        [b, C, t, S, S],
        'features',
      );
      return out.data;
    },
    (r) => (r instanceof Float32Array ? [r.buffer as ArrayBuffer] : []),
  );
}
