// int8 export (`eflip export --quantize int8`): the QDQ graph loads in onnxruntime-node, onnxruntime
// fuses it into quantized kernels, its top-1 agrees with the float model on the real sample clips
// (assets/samples) with the demo model, its metadata still validates, `eflip predict` reads it,
// and bad --calib input is refused in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportModelProto, exportOnnx } from '../src/io/onnx/export_model.js';
import { readOnnxSummary } from '../src/io/onnx/onnx_reader.js';
import { encodeModel } from '../src/io/onnx/onnx_proto.js';
import {
  calibrationTensors,
  DEFAULT_QUANT_KINDS,
  quantizeModel,
  RangeObserver,
} from '../src/io/onnx/quantize.js';
import { bytesSource, factsFromMetadata } from '../src/infer/onnx_model_source.js';
import { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import { nodePlatform } from '../src/infer/ort_node.js';
import { webPlatform } from '../src/infer/ort_web.js';
import { compareTop1, splitBatches } from '../src/cli/int8_export.js';
import { loadOnnxLipReader } from '../src/infer/load_node.js';
import { loadClip } from '../src/infer/frame_reader.js';
import { streamClip, type StreamStep } from '../src/infer/streaming.js';
import { assertRefused, runEflip } from './hostile_helpers.js';
import { maxAbsDiff, ROOT, tempDir } from './onnx_helpers.js';

const DEMO = path.join(ROOT, 'assets/demo/model.safetensors');
const SAMPLES = path.join(ROOT, 'assets/samples');

/** An LRW-layout tree of the sample clips (WORD/val and WORD/test), as symlinks. */
function samplesTree(dir: string): string {
  const root = path.join(dir, 'samples-lrw');
  for (const f of readdirSync(SAMPLES).filter((f) => f.endsWith('.mp4'))) {
    const word = f.replace(/_\d+\.mp4$/, '');
    for (const split of ['val', 'test']) {
      mkdirSync(path.join(root, word, split), { recursive: true });
      symlinkSync(path.join(SAMPLES, f), path.join(root, word, split, f));
    }
  }
  return root;
}

test('int8 export of the demo model: fused by onnxruntime, top-1 agrees with float on the sample clips, metadata validates, eflip predict reads it', async () => {
  const { dir, cleanup } = tempDir('eflip-int8-');
  try {
    const data = samplesTree(dir);
    const out = path.join(dir, 'demo.int8.onnx');
    const r = await runEflip(
      [
        'export',
        '-c',
        DEMO,
        '-o',
        out,
        '--quantize',
        'int8',
        '--calib',
        data,
        '--eval',
        'test',
        '--json',
      ],
      { timeoutMs: 300_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    const held = summary.quantization.heldOut;
    assert.equal(held.clips, 10);
    assert.ok(held.agreement >= 99, `int8 vs float top-1 agreement ${held.agreement} %`);
    assert.ok(held.fp32Top1 - held.int8Top1 <= 0.5, JSON.stringify(held));
    assert.ok(summary.quantization.quantized.pointwise > 0, JSON.stringify(summary.quantization));

    // the file: eflip metadata still validates; the quantization is recorded
    const bytes = readFileSync(out);
    const meta = readOnnxSummary(bytes, out).metadata;
    const facts = factsFromMetadata(meta, out);
    assert.equal(facts.labels.length, 10);
    assert.equal(JSON.parse(meta['eflip.quantization']).calibrationClips, 10);

    // onnxruntime fuses the QDQ pairs into quantized kernels (session's optimized model)
    const ort = await import('onnxruntime-node');
    const optimized = path.join(dir, 'opt.onnx');
    await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'extended',
      optimizedModelFilePath: optimized,
    });
    const opt = readFileSync(optimized).toString('latin1');
    assert.match(opt, /QLinearConv/, 'QLinearConv in the optimized graph');
    assert.match(
      opt,
      /QLinearMatMul|MatMulIntegerToFloat/,
      'quantized MatMul in the optimized graph',
    );

    // eflip predict with the int8 file answers as with the float model on the samples
    const clips = readdirSync(SAMPLES)
      .filter((f) => f.endsWith('.mp4'))
      .map((f) => path.join(SAMPLES, f));
    const fp32 = path.join(dir, 'demo.onnx');
    const e = await runEflip(['export', '-c', DEMO, '-o', fp32], { timeoutMs: 120_000 });
    assert.equal(e.code, 0, e.stderr);
    const top1 = async (model: string) => {
      const p = await runEflip(['predict', '-c', model, '--json', '--top', '1', ...clips], {
        timeoutMs: 300_000,
      });
      assert.equal(p.code, 0, p.stderr);
      const j = JSON.parse(p.stdout) as { results: { file: string; top: { label: string }[] }[] };
      return j.results.map((x) => `${path.basename(x.file)}: ${x.top[0].label}`);
    };
    const [a, b] = [await top1(fp32), await top1(out)];
    assert.equal(b.length, 10);
    assert.deepEqual(b, a, 'eflip predict: int8 words differ from float words');
    assert.ok(b.filter((l) => l.startsWith(l.split(': ')[1])).length >= 8, b.join(', '));
  } finally {
    cleanup();
  }
});

test('int8 streaming pair (export --quantize int8 --features): exact windows equal the int8 pair on the whole window, top-1 as the int8 model and as fp32 streaming on the sample clips', async () => {
  const { dir, cleanup } = tempDir('eflip-int8-stream-');
  const readers: OnnxLipReader[] = [];
  try {
    const data = samplesTree(dir);
    const out = path.join(dir, 'demo.int8.onnx');
    const fp32 = path.join(dir, 'demo.onnx');
    const r = await runEflip(
      ['export', '-c', DEMO, '-o', out, '--quantize', 'int8', '--calib', data, '--features'],
      { timeoutMs: 300_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const e = await runEflip(['export', '-c', DEMO, '-o', fp32, '--features'], {
      timeoutMs: 120_000,
    });
    assert.equal(e.code, 0, e.stderr);
    for (const part of ['frontend', 'backend']) {
      const meta = readOnnxSummary(readFileSync(path.join(dir, `demo.int8.${part}.onnx`)), part);
      assert.equal(meta.metadata['eflip.graph'], part);
      assert.equal(JSON.parse(meta.metadata['eflip.quantization']).calibrationClips, 10);
    }
    const q = await loadOnnxLipReader(out, { device: 'cpu', threads: 1 });
    readers.push(q);
    const f = await loadOnnxLipReader(fp32, { device: 'cpu', threads: 1 });
    readers.push(f);
    const argmax = (x: Float32Array) => x.reduce((b, v, i) => (v > x[b] ? i : b), 0);
    const files = readdirSync(SAMPLES).filter((x) => x.endsWith('.mp4'));
    let agreeFp32 = 0;
    for (const file of files) {
      const clip = await loadClip(path.join(SAMPLES, file), q.preprocessing, { channels: 1 });
      const P = clip.size * clip.size;
      const steps: StreamStep[] = [];
      await streamClip(q, clip, { window: 29, onStep: (s) => steps.push(s) });
      const fSteps: StreamStep[] = [];
      await streamClip(f, clip, { window: 29, onStep: (s) => fSteps.push(s) });
      for (const t of [0, 9, clip.frames - 1]) {
        const s = steps[t];
        const n = t - s.windowStart + 1;
        const padded = new Float32Array((n + 2) * P);
        padded.set(clip.data.subarray(s.windowStart * P, (t + 1) * P), P);
        const pair = await q.backend(await q.frontend(padded, 1, n + 2), 1, n);
        const d = maxAbsDiff(pair, s.logProbs);
        assert.ok(d < 1e-4, `${file} frame ${t}: int8 window vs the int8 pair on it: ${d}`);
        const whole = await q.predictClip({
          ...clip,
          data: clip.data.slice(s.windowStart * P, (t + 1) * P),
          frames: n,
        });
        assert.equal(argmax(s.logProbs), argmax(whole), `${file} frame ${t}: top-1 vs int8 model`);
        assert.ok(maxAbsDiff(whole, s.logProbs) < 0.05, `${file} frame ${t}: within int8 rounding`);
      }
      const last = steps[steps.length - 1].logProbs;
      if (argmax(last) === argmax(fSteps[fSteps.length - 1].logProbs)) agreeFp32++;
    }
    assert.equal(agreeFp32, files.length, 'int8 and fp32 streaming: the same word per clip');
  } finally {
    for (const x of readers) await x.dispose();
    cleanup();
  }
});

test('quantizeModel: per-channel int8 weights and uint8 activations; onnxruntime-node and -web (wasm) run it and agree with float', async () => {
  const ck = loadCheckpoint(DEMO);
  const { dir, cleanup } = tempDir('eflip-int8-');
  try {
    const batches = await splitBatches(ck, samplesTree(dir), 'val', { batchSize: 5 });
    const m = exportModelProto(ck, 'full');
    const tensors = calibrationTensors(m, ['pointwise', 'conv', 'depthwise', 'linear']);
    assert.ok(tensors.length > 10);
    // min-max ranges from the observer: contain zero and the data
    const obs = new RangeObserver('minmax');
    obs.observe('t', Float32Array.of(0.5, 2, 1));
    assert.deepEqual(obs.ranges().get('t'), [0, 2]);
    const pct = new RangeObserver('percentile', 99);
    const xs = new Float32Array(1000).map((_, i) => (i === 999 ? 1000 : i / 1000));
    pct.observe('t', xs);
    assert.ok(pct.ranges().get('t')![1] < 10, 'percentile clips the outlier');
    // a range for every tensor comes from calibration; a missing one is refused by name
    assert.throws(() => quantizeModel(m, new Map()), /no calibration range for tensor/);
    const { exportInt8 } = await import('../src/cli/int8_export.js');
    const q = await exportInt8(ck, batches);
    const s = readOnnxSummary(q.bytes);
    assert.equal(s.opset, 17);
    assert.ok(q.bytes.length < exportOnnx(ck).length, 'int8 weights make a smaller file');
    const cmp = await compareTop1(encodeModel(m), q.bytes, batches);
    assert.equal(cmp.clips, 10);
    assert.ok(cmp.agreement >= 99, JSON.stringify(cmp));

    // onnxruntime-web (wasm, as in the browser) runs the int8 file and gives the same words as
    // onnxruntime-node's int8 session
    const S = ck.preprocessing.size;
    const clips = Array.from({ length: 5 }, (_, i) => ({
      data: batches[0].data.slice(i * 29 * S * S, (i + 1) * 29 * S * S),
      frames: 29,
      channels: 1,
      size: S,
    }));
    const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
    const nodeReader = await OnnxLipReader.open(
      await nodePlatform('cpu'),
      bytesSource(q.bytes, 'int8'),
    );
    const webReader = await OnnxLipReader.open(
      await webPlatform({
        wasmPaths: path.join(ROOT, 'node_modules/onnxruntime-web/dist/'),
        device: 'wasm',
      }),
      bytesSource(q.bytes, 'int8 (wasm)'),
    );
    const [a, b] = [await nodeReader.predictBatch(clips), await webReader.predictBatch(clips)];
    await nodeReader.dispose();
    await webReader.dispose();
    assert.deepEqual(b.map(argmax), a.map(argmax), 'wasm and node int8 words');
    // more than the words: with the default 7-bit weights no x86 kernel saturates (see the
    // weight-range test below), so this CPU's kernels and wasm's agree to float rounding (with
    // 8-bit weights they differed by 0.10 in a log-probability on an AVX2 CPU)
    assert.equal(JSON.parse(readOnnxSummary(q.bytes).metadata['eflip.quantization']).weightBits, 7);
    for (let i = 0; i < clips.length; i++)
      assert.ok(maxAbsDiff(a[i], b[i]) < 1e-4, `clip ${i}: node vs wasm ${maxAbsDiff(a[i], b[i])}`);
  } finally {
    cleanup();
  }
});

test("int8: the first block's narrow conv (8 channels) is widened to 16 for onnxruntime's fast int8 path, outputs bit-identical to the int8 model without it", async () => {
  const ck = loadCheckpoint(DEMO);
  const m = exportModelProto(ck, 'full');
  // any valid ranges do: widening adds channels of exact zeros, whatever the scales
  const ranges = new Map(
    calibrationTensors(m, DEFAULT_QUANT_KINDS).map((t) => [t, [-4, 4] as [number, number]]),
  );
  const wide = quantizeModel(m, ranges);
  const narrow = quantizeModel(m, ranges, { widen: false });
  // the demo model's first trunk block: 3×3 conv 8 → 8, ReLU, 1×1 conv; that 1×1 conv (8
  // channels into the residual Add) and the SE convs stay as they are
  const name = 'frontend_3d.efnet.blocks.0.block.fused.0';
  assert.deepEqual(wide.report.widened, [`${name}_0/Conv`]);
  assert.deepEqual(narrow.report.widened, []);
  const dims = (q: typeof wide, t: string) =>
    q.model.graph.initializers.find((i) => i.name === t)?.dims;
  assert.deepEqual(dims(wide, `${name}.weight.int8`), [16, 8, 3, 3]);
  assert.deepEqual(dims(narrow, `${name}.weight.int8`), [8, 8, 3, 3]);
  const next = 'frontend_3d.efnet.blocks.0.block.fused_point_wise.0.weight.int8';
  assert.deepEqual(dims(wide, next), [8, 16, 1, 1]);
  const ort = await import('onnxruntime-node');
  const S = ck.preprocessing.size;
  const x = new Float32Array(2 * 29 * S * S).map((_, i) => Math.sin(i * 0.37));
  const run = async (q: typeof wide) => {
    const s = await ort.InferenceSession.create(encodeModel(q.model), {
      executionProviders: ['cpu'],
    });
    const out = await s.run({ frames: new ort.Tensor('float32', x, [2, 1, 29, S, S]) });
    await s.release();
    return out.log_probs.data as Float32Array;
  };
  const [a, b] = [await run(wide), await run(narrow)];
  assert.equal(a.length, 2 * 10);
  assert.equal(maxAbsDiff(a, b), 0);
});

test('int8 weights in a 7-bit range by default (±63: no u8×s8 pair saturates int16 on x86 CPUs without VNNI), ±127 with weightBits 8', async (t) => {
  const ck = loadCheckpoint(DEMO);
  const m = exportModelProto(ck, 'full');
  const ranges = new Map(
    calibrationTensors(m, DEFAULT_QUANT_KINDS).map((t) => [t, [-4, 4] as [number, number]]),
  );
  // each output channel's largest weight lands on ±63 (7 bits) or ±127 (--weight-bits 8)
  const largest = (q: ReturnType<typeof quantizeModel>) => {
    const per: number[] = [];
    for (const t of q.model.graph.initializers.filter((i) => i.name.endsWith('.int8'))) {
      const w = new Int8Array(new Uint8Array(t.rawData).buffer);
      const conv = t.dims.length === 4;
      const cout = conv ? t.dims[0] : t.dims[1];
      for (let c = 0; c < cout; c++) {
        let a = 0;
        for (let j = 0; j < w.length / cout; j++)
          a = Math.max(a, Math.abs(conv ? w[c * (w.length / cout) + j] : w[j * cout + c]));
        if (a > 0) per.push(a);
      }
    }
    return [Math.min(...per), Math.max(...per)];
  };
  assert.deepEqual(largest(quantizeModel(m, ranges)), [63, 63]);
  assert.deepEqual(largest(quantizeModel(m, ranges, { weightBits: 8 })), [127, 127]);
  assert.throws(
    () => quantizeModel(m, ranges, { weightBits: 6 as 7 }),
    /weight bits must be 7 or 8/,
  );
  // a file's range, from its metadata: 8 for int8 files from before eflip recorded it (or an
  // unreadable value), null for float32
  const meta = readOnnxSummary(exportOnnx(ck)).metadata;
  const bits = (q?: string) =>
    factsFromMetadata(q === undefined ? meta : { ...meta, 'eflip.quantization': q }, 'm')
      .int8WeightBits;
  assert.deepEqual(
    [bits(), bits('{"weightBits":7}'), bits('{"weightBits":8}'), bits('{}'), bits('{oops')],
    [null, 7, 8, 8, 8],
  );
  // opening an 8-bit int8 model where the products saturate (x86 without VNNI; forced here)
  // says so once, on stderr; a 7-bit one, or a CPU with VNNI, says nothing
  const lines: string[] = [];
  const spy = t.mock.method(console, 'error', (l: string) => void lines.push(l));
  try {
    for (const [weightBits, saturates] of [
      [8, true],
      [8, true],
      [7, true],
      [8, false],
    ] as const) {
      const q = quantizeModel(m, ranges, { weightBits }).model;
      q.metadataProps['eflip.quantization'] = JSON.stringify({ weightBits });
      const platform = { ...(await nodePlatform('cpu')), int8Saturates: saturates };
      const r = await OnnxLipReader.open(platform, bytesSource(encodeModel(q), `w${weightBits}`));
      await r.dispose();
    }
  } finally {
    spy.mock.restore();
  }
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(
    lines[0],
    /^eflip: warning: w8: int8 model with 8-bit weights on a CPU without VNNI/,
  );
});

test('export --quantize int8 refuses bad --calib input in one line, writing nothing', async () => {
  const { dir, cleanup } = tempDir('eflip-int8-');
  try {
    const out = path.join(dir, 'x.onnx');
    const base = ['export', '-c', DEMO, '-o', out];
    assertRefused(await runEflip([...base, '--quantize', 'int8']), /--quantize int8 needs --calib/);
    assertRefused(
      await runEflip([...base, '--quantize', 'int8', '--calib', path.join(dir, 'nope')]),
      /--calib .*nope: not a directory/,
    );
    mkdirSync(path.join(dir, 'empty'));
    assertRefused(
      await runEflip([...base, '--quantize', 'int8', '--calib', path.join(dir, 'empty')]),
      /empty/,
    );
    assertRefused(
      await runEflip([...base, '--calib', path.join(dir, 'empty')]),
      /--calib is for --quantize int8/,
    );
    assertRefused(
      await runEflip([...base, '--weight-bits', '8']),
      /--weight-bits is for --quantize int8/,
    );
    assertRefused(
      await runEflip([...base, '--quantize', 'int8', '--calib', dir, '--weight-bits', '6']),
      /--weight-bits must be between 7 and 8/,
    );
    assertRefused(
      await runEflip([...base, '--quantize', 'int4', '--calib', path.join(dir, 'empty')]),
      /--quantize must be one of fp32, int8/,
    );
    assertRefused(
      await runEflip([
        ...base,
        '--quantize',
        'int8',
        '--calib',
        path.join(dir, 'empty'),
        '--features',
      ]),
      /empty/,
    );
    for (const f of [out, path.join(dir, 'x.frontend.onnx'), path.join(dir, 'x.backend.onnx')])
      assert.ok(!existsSync(f), `no output file after a refusal (${f})`);
  } finally {
    cleanup();
  }
});

test('--calib-clips N decodes only N clips, one word at a time in turn; --eval on the calibration split is refused', async () => {
  const { dir, cleanup } = tempDir('eflip-int8-limit-');
  try {
    // 10 words × 2 val clips (each sample twice)
    const root = path.join(dir, 'two-each');
    for (const f of readdirSync(SAMPLES).filter((f) => f.endsWith('.mp4'))) {
      const word = f.replace(/_\d+\.mp4$/, '');
      mkdirSync(path.join(root, word, 'val'), { recursive: true });
      for (const n of ['00001', '00002'])
        symlinkSync(path.join(SAMPLES, f), path.join(root, word, 'val', `${word}_${n}.mp4`));
    }
    const ck = loadCheckpoint(DEMO);
    for (const [limit, words] of [
      [3, 3],
      [12, 10],
    ]) {
      const logs: string[] = [];
      const batches = await splitBatches(ck, root, 'val', {
        limit,
        batchSize: 50,
        log: (m) => logs.push(m),
      });
      const labels = batches.flatMap((b) => b.labels!);
      assert.equal(labels.length, limit, `--calib-clips ${limit}: ${limit} clips`);
      assert.equal(new Set(labels).size, words, `--calib-clips ${limit}: ${words} words`);
      assert.ok(
        logs.some((l) => l.startsWith(`decoded ${limit}/${limit} clips`)),
        `only the chosen clips are decoded: ${logs.join(' | ')}`,
      );
    }
    const r = await runEflip([
      'export',
      '-c',
      DEMO,
      '-o',
      path.join(dir, 'q.onnx'),
      '--quantize',
      'int8',
      '--calib',
      root,
      '--eval',
      'val',
    ]);
    assertRefused(r, /--eval val is the calibration split \(--calib-split val\)/, { code: 2 });
    assert.ok(!existsSync(path.join(dir, 'q.onnx')));
  } finally {
    cleanup();
  }
});
