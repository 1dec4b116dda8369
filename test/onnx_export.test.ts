// Export parity: the ONNX files written from the TypeScript network definition pass the
// official checker, and onnxruntime (node CPU, and web wasm under Node) reproduces the libtorch
// backend's and PyTorch's log-probabilities within 1e-3 for T and B, batch 1 and 8, T = 29
// and another length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import { nodePlatform } from '../src/infer/ort_node.js';
import { webPlatform } from '../src/infer/ort_web.js';
import { bytesSource, checkpointSource } from '../src/infer/onnx_model_source.js';
import { TorchLipReader } from '../src/infer/torch_lipreader.js';
import type { Clip } from '../src/infer/types.js';
import { maxAbsDiff, onnxCheck, randn, ROOT, tempDir } from './onnx_helpers.js';
import { torchForward, torchInit } from './onnx_torch_ref.js';

const S = 88;
const clipsOf = (x: Float32Array, B: number, T: number): Clip[] =>
  Array.from({ length: B }, (_, b) => ({
    data: x.slice(b * T * S * S, (b + 1) * T * S * S),
    frames: T,
    channels: 1,
    size: S,
  }));

for (const variant of ['T', 'B']) {
  test(`variant ${variant}: ONNX export passes the checker and matches libtorch and PyTorch (batch 1 and 8, T=29 and 13)`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const weights = torchInit(dir, variant, variant === 'T' ? 3 : 4);
      const ck = loadCheckpoint(weights);
      const files = (['full', 'frontend', 'backend'] as const).map((k) => {
        const f = path.join(dir, `${variant}.${k}.onnx`);
        writeFileSync(f, exportOnnx(ck, k));
        return f;
      });
      const checked = onnxCheck(files);
      for (const f of files)
        assert.equal(checked[f].ok, true, `${path.basename(f)}: ${checked[f].error}`);
      const meta = checked[files[0]].metadata!;
      assert.equal(JSON.parse(meta['eflip.labels']).length, 500);
      assert.equal(JSON.parse(meta['eflip.config']).variant, variant);
      for (const k of ['eflip.normalisation', 'eflip.crop', 'eflip.input_layout', 'eflip.version'])
        assert.ok(meta[k], k);
      assert.ok(!checked[files[0]].ops!.includes('BatchNormalization'), 'BN folded into convs');

      const x8 = randn(8 * 29 * S * S, 100);
      const x2 = randn(2 * 13 * S * S, 101);
      const ref8 = torchForward(dir, weights, x8, [8, 1, 29, S, S], 'b8');
      const ref2 = torchForward(dir, weights, x2, [2, 1, 13, S, S], 'b2');

      const reader = await OnnxLipReader.open(
        await nodePlatform('cpu'),
        checkpointSource(ck, weights),
      );
      const got8 = await reader.predictBatch(clipsOf(x8, 8, 29));
      const got1 = await reader.predictClip(clipsOf(x8, 1, 29)[0]);
      const got2 = await reader.predictBatch(clipsOf(x2, 2, 13));
      // the libtorch backend (eflip's engine + model) on the same clips
      const torch = await TorchLipReader.load(weights, { device: 'cpu' });
      const lt8 = await torch.predictBatch(clipsOf(x8, 8, 29));
      const lt1 = await torch.predictClip(clipsOf(x8, 1, 29)[0]);
      const lt2 = await torch.predictBatch(clipsOf(x2, 2, 13));
      await torch.dispose();
      const flat = (v: Float32Array[]) => Float32Array.from(v.flatMap((a) => [...a]));
      const l8 = maxAbsDiff(flat(got8), flat(lt8)),
        l1 = maxAbsDiff(got1, lt1),
        l2 = maxAbsDiff(flat(got2), flat(lt2));
      assert.ok(
        l8 < 1e-3 && l1 < 1e-3 && l2 < 1e-3,
        `max |diff| onnxruntime vs libtorch: b8 ${l8}, b1 ${l1}, T13 ${l2}`,
      );

      const d8 = maxAbsDiff(Float32Array.from(got8.flatMap((a) => [...a])), ref8.logp);
      const d1 = maxAbsDiff(got1, ref8.logp.subarray(0, 500));
      const d2 = maxAbsDiff(Float32Array.from(got2.flatMap((a) => [...a])), ref2.logp);
      assert.ok(
        d8 < 1e-3 && d1 < 1e-3 && d2 < 1e-3,
        `max |diff| vs PyTorch: b8 ${d8}, b1 ${d1}, T13 ${d2}`,
      );
      // the distribution is not degenerate (the check could fail)
      assert.ok(Math.max(...got1) - Math.min(...got1) > 0.1);

      // feature halves: zero context frames + front-end + back-end = full model
      const T = 13;
      const padded = new Float32Array((T + 2) * S * S);
      padded.set(x2.subarray(0, T * S * S), S * S);
      const feats = await reader.frontend(padded, 1, T + 2);
      assert.ok(
        maxAbsDiff(feats, ref2.features.subarray(0, T * 384)) < 1e-3,
        'front-end features match PyTorch forward_features',
      );
      const lp = await reader.backend(feats, 1, T);
      assert.ok(maxAbsDiff(lp, ref2.logp.subarray(0, 500)) < 1e-3, 'back-end on features matches');
      await reader.dispose();

      if (variant === 'T') {
        // onnxruntime-web (wasm) under Node, same file, same outputs
        const ortWeb = await import('onnxruntime-web');
        const web = await OnnxLipReader.open(
          await webPlatform({
            ort: ortWeb,
            wasmPaths: path.join(ROOT, 'node_modules/onnxruntime-web/dist/'),
            device: 'wasm',
          }),
          bytesSource(exportOnnx(ck, 'full'), 'T.onnx'),
        );
        assert.equal(web.device, 'wasm');
        const w1 = await web.predictClip(clipsOf(x8, 1, 29)[0]);
        const dw = maxAbsDiff(w1, ref8.logp.subarray(0, 500));
        assert.ok(dw < 1e-3, `onnxruntime-web vs PyTorch: ${dw}`);
        await web.dispose();
      }
    } finally {
      cleanup();
    }
  });
}
