// webPlatform (src/infer/ort_web.ts) picks onnxruntime-web's wasm-only build unless WebGPU is
// among the providers: the WebGPU build's wasm runs the same CPU kernels slower (docs/webapp.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webPlatform } from '../src/infer/ort_web.js';

test('webPlatform: the wasm-only onnxruntime-web build without WebGPU, the WebGPU build with it', async () => {
  const wasmOnly = await import('onnxruntime-web/wasm');
  const withGpu = await import('onnxruntime-web');
  assert.notEqual(wasmOnly, withGpu);
  // Node has no navigator.gpu: 'auto' means wasm
  for (const device of ['wasm', 'auto'] as const) {
    const p = await webPlatform({ device });
    assert.deepEqual(p.providers, ['wasm']);
    assert.equal(p.ort, wasmOnly, `device ${device}`);
  }
  const gpu = await webPlatform({ device: 'webgpu' });
  assert.deepEqual(gpu.providers, ['webgpu']);
  assert.equal(gpu.ort, withGpu);
  // a module the caller imported is used as it is
  assert.equal((await webPlatform({ device: 'wasm', ort: withGpu })).ort, withGpu);
});

test('webPlatform: front-end lanes only for 2 or more lanes on wasm with a worker URL; NaN, negative or 1 give none', async () => {
  const wasmPaths = new URL('../../node_modules/onnxruntime-web/dist/', import.meta.url).pathname;
  const has = async (o: Parameters<typeof webPlatform>[0]) =>
    !!(await webPlatform({ wasmPaths, device: 'wasm', ...o })).frontendLanes;
  const url = '/lane_worker.js';
  assert.equal(await has({ lanes: 2, laneWorkerUrl: url }), true);
  assert.equal(await has({ lanes: 1000, laneWorkerUrl: url }), true); // capped at MAX_LANES
  for (const lanes of [0, 1, -3, NaN])
    assert.equal(await has({ lanes, laneWorkerUrl: url }), false, `lanes ${lanes}`);
  assert.equal(await has({ lanes: 2 }), false, 'no worker URL');
});
