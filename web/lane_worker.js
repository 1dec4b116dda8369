// One front-end lane of the browser (src/infer/web_lanes.ts): onnxruntime-web on one wasm
// thread, answering the lane's tasks in order (src/infer/frontend_lane.ts laneRunner).
import { laneRunner } from '../src/infer/frontend_lane.js';
import { webPlatform } from '../src/infer/ort_web.js';

let run = null;
let chain = Promise.resolve();

async function answer({ id, task }) {
  try {
    if (!run) {
      if (task.op !== 'open') throw new Error('a front-end lane must be opened first');
      const platform = webPlatform({ device: 'wasm', threads: 1, wasmPaths: task.wasmPaths });
      run = laneRunner(platform, task.frontend, task.source);
    }
    const result = await run(task);
    self.postMessage({ id, result }, result instanceof Float32Array ? [result.buffer] : []);
  } catch (e) {
    self.postMessage({ id, error: e?.message ?? String(e) });
  }
}

self.onmessage = (e) => {
  chain = chain.then(() => answer(e.data));
};
