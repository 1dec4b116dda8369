// The engine in worker_threads: each JS context has its own handle table, ops run
// concurrently with the main thread, and a worker's exit frees its tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as E from '../src/engine/index.js';

const engineUrl = new URL('../src/engine/index.js', import.meta.url).href;

// deterministic small computation (no RNG: generators are process-wide)
const WORK = `
  const { workerData, parentPort } = require('node:worker_threads');
  import(workerData.engineUrl).then((E) => {
    let out = 0;
    for (let i = 0; i < workerData.steps; i++) {
      out = E.tidy(() => {
        const x = E.arange(0, 2 * 3 * 6 * 6, 1).reshape([2, 3, 6, 6]).div(100);
        const w = E.ones([4, 3, 3, 3]).mul(0.01 * (workerData.id + 1)).requiresGrad_();
        const y = E.F.conv2d(x, w, null, { padding: 1 }).relu().mean();
        y.backward();
        return w.grad.sum().item() + y.item();
      });
    }
    try { E.tidy(() => E.ones([2]).add(E.ones([3]))); } catch (e) { parentPort.postMessage({ errorName: e.name }); }
    parentPort.postMessage({ out, live: E.liveTensors() });
  });
`;

function runWorker(
  id: number,
  steps: number,
): Promise<{ out: number; live: number; errorName: string }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORK, { eval: true, workerData: { engineUrl, id, steps } });
    const got: Record<string, unknown> = {};
    w.on('message', (m) => Object.assign(got, m));
    w.on('error', reject);
    w.on('exit', (code) =>
      code === 0
        ? resolve(got as { out: number; live: number; errorName: string })
        : reject(new Error(`worker exited ${code}`)),
    );
  });
}

function expected(id: number): number {
  return E.tidy(() => {
    const x = E.arange(0, 2 * 3 * 6 * 6, 1)
      .reshape([2, 3, 6, 6])
      .div(100);
    const w = E.ones([4, 3, 3, 3])
      .mul(0.01 * (id + 1))
      .requiresGrad_();
    const y = E.F.conv2d(x, w, null, { padding: 1 }).relu().mean();
    y.backward();
    return w.grad!.sum().item() + y.item();
  });
}

test('workers run the engine concurrently with their own handle tables', async () => {
  const before = E.liveTensors();
  const keepMain = E.keep(E.ones([5]));
  const pending = [runWorker(0, 200), runWorker(1, 200)];
  // the main thread keeps computing meanwhile
  let mainOut = 0;
  for (let i = 0; i < 200; i++) mainOut = expected(2);
  const [a, b] = await Promise.all(pending);
  assert.equal(a.out, expected(0));
  assert.equal(b.out, expected(1));
  assert.equal(mainOut, expected(2));
  assert.equal(a.errorName, 'ShapeError', 'typed errors inside workers');
  assert.equal(a.live, 0);
  assert.equal(
    E.tidy(() => keepMain.sum().item()),
    5,
    'main-thread handles untouched by workers',
  );
  keepMain.dispose();
  assert.equal(E.liveTensors(), before);
});
