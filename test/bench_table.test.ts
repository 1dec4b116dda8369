// The README benchmark table is generated from bench/results.json (test/cli.test.ts checks the
// README block is current); here: the rows read the benches' own JSON, and a benchmark without a
// record says so rather than keeping an old figure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { benchTable, type BenchRecord } from '../src/cli/bench_table.js';

const machine = { cpus: 2, cpu: 'x', loadAverage1m: [1, 2] as [number, number] };

test('bench table: rows from recorded JSON, "not measured" without a record', () => {
  const infer: BenchRecord = {
    command: 'eflip bench infer --json',
    measuredAt: '2026-01-02',
    machine,
    result: {
      threads: 2,
      msPerClip: { batch1: { onnx: 25, libtorch: 130, torchEager: 140 } },
      speedup: { batch1: { onnxVsTorchEager: 5.6, libtorchVsTorchEager: 1.08 } },
      onnxWebWasmBatch1MsPerClip: 230,
      streaming: { fastMsPerFrame: 4.8, exactMsPerFrame: 7.1 },
    },
  };
  const t = benchTable({ infer });
  const row = t.split('\n').find((l) => l.startsWith('| `eflip bench infer --json`'))!;
  assert.match(
    row,
    /onnxruntime 25\.0, libtorch 130\.0, PyTorch eager 140\.0 \(onnxruntime \*\*5\.6×\*\* faster/,
  );
  assert.match(
    row,
    /streaming \*\*4\.8 ms\*\* \(fast\), 7\.1 ms \(exact\) — 2026-01-02, 2 CPUs, load 1→2/,
  );
  assert.match(t, /`eflip bench data --json` .* \*\*not measured\*\*/);
  assert.equal(t.split('\n').length, 2 + 8);
  // streaming at hop 2 appears when the run measured it
  const hops = { hop2: { fast: { msPerFrame: 3.17 }, exact: { msPerFrame: 4.22 } } };
  const withHops = {
    ...infer,
    result: { ...infer.result, streaming: { ...infer.result.streaming, hops } },
  };
  assert.match(
    benchTable({ infer: withHops }),
    /a window every 2nd frame: 3\.2 ms \(fast\), 4\.2 ms \(exact\)/,
  );
  assert.doesNotMatch(benchTable({ infer: withHops }), /per clip: fp32|int8 streaming/);
  // --int8: the batch ratio per precision and the int8 streaming pair
  type Int8Hop = { msPerFrame: number; int8: { msPerFrame: number; pipelinedMsPerFrame?: number } };
  const int8Hops: Record<'hop1' | 'hop2', { fast: Int8Hop; exact: Int8Hop }> = {
    hop1: {
      fast: { msPerFrame: 4.8, int8: { msPerFrame: 2.61 } },
      exact: { msPerFrame: 7.8, int8: { msPerFrame: 4.44 } },
    },
    hop2: {
      fast: { msPerFrame: 3.17, int8: { msPerFrame: 2.04 } },
      exact: { msPerFrame: 4.22, int8: { msPerFrame: 3.01 } },
    },
  };
  const withInt8 = {
    ...infer,
    result: {
      ...infer.result,
      batch8VsBatch1PerClip: { fp32: 0.87, int8: 0.83 },
      streaming: { ...infer.result.streaming, hops: int8Hops },
    },
  };
  const r8 = benchTable({ infer: withInt8 });
  assert.match(r8, /batch 8 ÷ batch 1 per clip: fp32 \*\*0\.87\*\*, int8 \*\*0\.83\*\*/);
  assert.match(
    r8,
    /int8 streaming, one frame at a time: 2\.6 ms \(fast\), 4\.4 ms \(exact\); every 2nd frame 2\.0 ms \(fast\), 3\.0 ms \(exact\)/,
  );
  assert.doesNotMatch(r8, /pipelined/); // a record from before pipelinedMsPerFrame
  // pipelined (as `eflip stream` runs a video): beside the one-at-a-time figures
  int8Hops.hop1.fast.int8.pipelinedMsPerFrame = 1.77;
  int8Hops.hop1.exact.int8.pipelinedMsPerFrame = 3.53;
  assert.match(
    benchTable({ infer: withInt8 }),
    /one frame at a time: 2\.6 ms \(fast\), 4\.4 ms \(exact\); pipelined \(`eflip stream`\): \*\*1\.8 ms\*\* \(fast\), \*\*3\.5 ms\*\* \(exact\); every 2nd frame/,
  );
});

test("bench table: the train row leads with the default recipe's ratio to PyTorch eager fp32", () => {
  const fp32 = {
    eflip: { clips_per_s: 9.71 },
    pytorch: { clips_per_s: 5.71 },
    ratio: 1.7,
    rss_ratio: 0.95,
  };
  const bf16 = {
    eflip: { clips_per_s: 10.31 },
    pytorch: { clips_per_s: 7 },
    ratio: 1.47,
    rss_ratio: 0.95,
  };
  const base = { batch: 8, input: [1, 29, 88, 88], steps: 3, fp32, bf16 };
  const rec = (result: object): BenchRecord => ({
    command: 'eflip bench train --json --threads 2',
    measuredAt: '2026-01-02',
    machine,
    result,
  });
  const row = (result: object) =>
    benchTable({ train: rec(result) })
      .split('\n')
      .find((l) => l.startsWith('| `eflip bench train --json --threads 2`'))!;
  const headline = {
    precision: 'bf16',
    layout: 'channels_last',
    eflip_clips_per_s: 10.31,
    pytorch_fp32_clips_per_s: 5.71,
    ratio: 10.31 / 5.71,
  };
  assert.match(
    row({ ...base, default_recipe: headline }),
    /\| default recipe \(auto → bf16, channels_last\) 10\.31 vs PyTorch eager fp32 5\.71 \(\*\*1\.81×\*\*\); batch 8, 29×88×88, 3 steps: fp32 9\.71 vs 5\.71/,
  );
  assert.match(
    row({
      ...base,
      default_recipe: {
        precision: 'bf16',
        layout: 'channels_last',
        error: 'eflip bf16 not measured (--no-bf16)',
      },
    }),
    /\| default recipe \(bf16\): eflip bf16 not measured \(--no-bf16\); batch 8/,
  );
  // a record from before the field: the row as it was
  assert.match(row(base), /\| batch 8, 29×88×88, 3 steps: fp32 9\.71/);
});

test('bench table: every recorded result in bench/results.json renders', () => {
  const all = JSON.parse(
    readFileSync(new URL('../../bench/results.json', import.meta.url), 'utf8'),
  ) as Record<string, BenchRecord>;
  const t = benchTable(all);
  for (const [k, rec] of Object.entries(all)) {
    const row = t.split('\n').find((l) => l.startsWith(`| \`${rec.command}\``));
    assert.ok(row, `no row for ${k}`);
    assert.doesNotMatch(row, /unreadable record|undefined|NaN/, row);
  }
});

test('bench table: the webapp row says what its frames/s are (tracked frames of the 25 slots/s)', () => {
  const run = {
    device: 'wasm',
    modelIn: 'worker, 1 thread',
    framesPerSecond: 24.1,
    msPerFrame: { detector: 3, landmarks: 17, trackCheck: 6, model: 11 },
  };
  const rec = (runs: object[]): BenchRecord => ({
    command: 'eflip bench webapp --json',
    measuredAt: '2026-01-02',
    machine,
    result: { camera: 'fake camera', modelOnly: [], runs },
  });
  const row = (runs: object[]) =>
    benchTable({ webapp: rec(runs) })
      .split('\n')
      .find((l) => l.startsWith('| `eflip bench webapp --json`'))!;
  const now = row([{ ...run, camera: { slotsPerSecond: 25.01, newFrameShare: 0.96 } }]);
  assert.match(
    now,
    /wasm, model in worker, 1 thread: \*\*24\.1 frames\/s\*\* tracked, 96 % of the reader's 25\.0 slots\/s new \(detector 3\.0/,
  );
  // records since the detector worker say where the detections ran
  assert.match(
    row([
      {
        ...run,
        detectorIn: 'worker (wasm, 1 thread)',
        camera: { slotsPerSecond: 25.01, newFrameShare: 1 },
      },
    ]),
    /model in worker, 1 thread, detector in worker \(wasm, 1 thread\): \*\*24\.1 frames\/s\*\* tracked, 100 % of/,
  );
  // a record from before the 25 frames/s timeline: the row as it was
  assert.match(row([run]), /\*\*24\.1 frames\/s\*\* \(detector 3\.0/);
});
