// Pinned input shapes: pinDimensions rewrites symbolic dims of an exported model into fixed
// ones (the file still passes the official checker, with the same metadata), a session on the
// pinned model gives the same log-probabilities as the symbolic one, refuses other shapes, and
// the rewrite rejects bad values and corrupt files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import { OnnxFileError } from '../src/io/onnx/onnx_reader.js';
import { pinDimensions } from '../src/io/onnx/static_dims.js';
import { nodePlatform } from '../src/infer/ort_node.js';
import { openSession, runFloat, sessionThreads } from '../src/infer/ort_session.js';
import { maxAbsDiff, onnxCheck, randn, tempDir } from './onnx_helpers.js';
import { torchInit } from './onnx_torch_ref.js';

test('pinDimensions: fixed batch/time pass the checker, keep metadata, and run like the symbolic model', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ck = loadCheckpoint(torchInit(dir, 'T', 5));
    const full = exportOnnx(ck, 'full');
    const pinned = pinDimensions(full, { batch: 2, time: 7 });
    const files = { full: path.join(dir, 'full.onnx'), pinned: path.join(dir, 'pinned.onnx') };
    writeFileSync(files.full, full);
    writeFileSync(files.pinned, pinned);
    const c = onnxCheck(Object.values(files));
    assert.equal(c[files.pinned].ok, true, String(c[files.pinned].error));
    assert.deepEqual(c[files.full].inputs, { frames: ['batch', 1, 'time', 88, 88] });
    assert.deepEqual(c[files.pinned].inputs, { frames: [2, 1, 7, 88, 88] });
    assert.deepEqual(c[files.pinned].outputs, { log_probs: [2, 500] });
    assert.deepEqual(c[files.pinned].metadata, c[files.full].metadata);
    assert.equal(
      pinDimensions(full, { nosuchdim: 3 }),
      full,
      'no matching dim: the same bytes come back',
    );

    const p = await nodePlatform('cpu', 2);
    const a = await openSession(p, full, 'full');
    const b = await openSession(p, pinned, 'pinned');
    const x = randn(2 * 7 * 88 * 88, 11, 2);
    const ya = await runFloat(p, a.session, 'frames', x, [2, 1, 7, 88, 88], 'log_probs');
    const yb = await runFloat(p, b.session, 'frames', x, [2, 1, 7, 88, 88], 'log_probs');
    assert.ok(
      maxAbsDiff(ya.data, yb.data) < 1e-5,
      `pinned vs symbolic: ${maxAbsDiff(ya.data, yb.data)}`,
    );
    await assert.rejects(
      runFloat(p, b.session, 'frames', x.subarray(0, 7 * 88 * 88), [1, 1, 7, 88, 88], 'log_probs'),
      /dimension|shape|Got/i,
    );
    await a.session.release();
    await b.session.release();
  } finally {
    cleanup();
  }
});

test('pinDimensions rejects non-positive sizes and corrupt models', () => {
  const tiny = Uint8Array.from([0x08, 0x08, 0x3a, 0x05, 0x0a, 0x03]); // graph field claims 5 bytes, 3 follow
  assert.throws(() => pinDimensions(tiny, { batch: 0 }), RangeError);
  assert.throws(() => pinDimensions(tiny, { batch: 1.5 }), RangeError);
  assert.throws(() => pinDimensions(tiny, { batch: 1 }), OnnxFileError);
});

test('pinned sessions only ever lower the thread count', () => {
  assert.equal(
    sessionThreads({ threads: undefined, cores: 2 }, 29),
    undefined,
    "a 29-frame clip keeps onnxruntime's default",
  );
  assert.equal(
    sessionThreads({ threads: undefined, cores: 2 }, 1),
    1,
    'one streaming frame: one thread',
  );
  assert.equal(sessionThreads({ threads: 2, cores: 16 }, 3), 2);
  assert.equal(sessionThreads({ threads: 8, cores: 16 }, 3), 3);
  assert.equal(sessionThreads({ threads: 4 }, undefined), 4);
  assert.equal(
    sessionThreads({}, 1),
    undefined,
    'no thread or core count known (browser): default',
  );
});
