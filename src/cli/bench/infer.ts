// `eflip bench infer`: ms/clip of the T network for the libtorch backend, onnxruntime and
// PyTorch eager (python3-torch) in the same run, as ratios; plus streaming cost per new frame.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, type CommandDef } from '../args.js';
import { loadLipReader, loadOnnxLipReader, onnxSourceFor } from '../../infer/load_node.js';
import { StreamingLipReader } from '../../infer/streaming.js';
import type { Clip, LipReader } from '../../infer/types.js';

export const def: CommandDef = {
  name: 'bench infer',
  usage: 'bench infer [--json] [--checkpoint PATH] [--variant T] [--threads N] [--iters N]',
  description: [
    'Inference speed of one variant (default T, 29×88×88 clips) at batch 1 and 8: ms/clip for',
    'onnxruntime (eflip\'s own export), the libtorch backend and PyTorch eager (python3-torch, same',
    'weights, same thread count), with ratios; then streaming cost per new frame (exact and fast).',
    'Without --checkpoint, random weights are initialised by tools/torch_ref/lipreader.py.',
  ].join('\n'),
  options: {
    json: { type: 'boolean', help: 'print one JSON object' },
    checkpoint: { type: 'string', help: 'model checkpoint (.safetensors); default: a fresh random one' },
    variant: { type: 'string', default: 'T', help: 'variant for the random checkpoint' },
    threads: { type: 'int', help: 'threads for every runtime (default: all cores)' },
    iters: { type: 'int', default: 10, help: 'timed iterations at batch 1 (batch 8: a third)' },
    frames: { type: 'int', default: 29, help: 'frames per clip' },
    'stream-frames': { type: 'int', default: 60, help: 'frames pushed to measure streaming' },
    spin: { type: 'boolean', help: 'let idle worker threads spin in every runtime (default: block — fairer on a busy machine)' },
  },
};

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PY = process.env.EFLIP_PYTHON ?? '/usr/bin/python3';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function randomClip(frames: number, seed: number): Clip {
  const data = new Float32Array(frames * 88 * 88);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return { data, frames, channels: 1, size: 88 };
}

async function timeReader(r: LipReader, batch: number, frames: number, iters: number): Promise<number> {
  const clips = Array.from({ length: batch }, (_, i) => randomClip(frames, i + 1));
  for (let i = 0; i < 2; i++) await r.predictBatch(clips);
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await r.predictBatch(clips);
    times.push((performance.now() - t0) / batch);
  }
  return median(times);
}

const log = (json: boolean | undefined, msg: string) => {
  if (!json) console.error(msg);
};

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts as { json?: boolean; checkpoint?: string; variant: string; threads?: number; iters: number; frames: number; 'stream-frames': number };
  const threads = o.threads ?? availableParallelism();
  // Same wait policy for every runtime: onnxruntime's allow_spinning and OpenMP's (libtorch in
  // this process, PyTorch in the child) — set before libtorch is loaded.
  const spin = !!(p.opts as { spin?: boolean }).spin;
  if (spin) process.env.EFLIP_ORT_SPIN = '1';
  else {
    delete process.env.EFLIP_ORT_SPIN;
    process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  }
  const tmp = mkdtempSync(path.join(tmpdir(), 'eflip-bench-infer-'));
  try {
    let weights = o.checkpoint;
    if (!weights) {
      weights = path.join(tmp, `${o.variant}.safetensors`);
      log(o.json, `initialising random ${o.variant} weights (python3-torch) ...`);
      execFileSync(PY, [path.join(ROOT, 'tools/torch_ref/lipreader.py'), 'init', '--variant', o.variant, '--random-bn', '--out', weights], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    const batches = [1, 8];
    const rows: Record<string, Record<string, number | null>> = {};
    for (const b of batches) rows[`batch${b}`] = { onnx: null, libtorch: null, torchEager: null };

    log(o.json, `onnxruntime (${threads} threads) ...`);
    const ortReader = await loadOnnxLipReader(weights, { device: 'auto', threads });
    for (const b of batches) rows[`batch${b}`].onnx = await timeReader(ortReader, b, o.frames, b === 1 ? o.iters : Math.max(2, Math.ceil(o.iters / 3)));

    // onnxruntime-web (wasm, 1 thread) as a browser would run it, batch 1 only
    let webMs: number | null = null;
    try {
      log(o.json, 'onnxruntime-web wasm (batch 1) ...');
      const { webPlatform } = await import('../../infer/ort_web.js');
      const { OnnxLipReader } = await import('../../infer/onnx_lipreader.js');
      const web = await OnnxLipReader.open(
        await webPlatform({ device: 'wasm', wasmPaths: path.join(ROOT, 'node_modules/onnxruntime-web/dist/') }),
        onnxSourceFor(weights),
      );
      webMs = await timeReader(web, 1, o.frames, Math.max(3, Math.ceil(o.iters / 3)));
      await web.dispose();
    } catch (e) {
      log(o.json, `  skipped: ${(e as Error).message}`);
    }

    let libtorchNote: string | null = null;
    try {
      log(o.json, 'libtorch backend ...');
      const tr = await loadLipReader(weights, { runtime: 'torch', threads });
      for (const b of batches) rows[`batch${b}`].libtorch = await timeReader(tr, b, o.frames, b === 1 ? Math.max(3, Math.ceil(o.iters / 2)) : 2);
      await tr.dispose();
    } catch (e) {
      libtorchNote = (e as Error).message;
      log(o.json, `  skipped: ${libtorchNote}`);
    }

    let torchInfo: { torch: string; threads: number } | null = null;
    if (existsSync(PY)) {
      log(o.json, 'PyTorch eager (python3-torch) ...');
      const out = execFileSync(PY, [path.join(ROOT, 'tools/torch_ref/onnx_bench_torch.py'), '--weights', weights, '--batches', batches.join(','), '--frames', String(o.frames), '--iters', String(Math.max(3, Math.ceil(o.iters / 2))), '--threads', String(threads)], { encoding: 'utf8' });
      const r = JSON.parse(out);
      torchInfo = { torch: r.torch, threads: r.threads };
      for (const b of batches) rows[`batch${b}`].torchEager = r.ms_per_clip[String(b)];
    }

    log(o.json, 'streaming ...');
    const streaming: Record<string, number> = {};
    for (const mode of ['exact', 'fast'] as const) {
      const sr = new StreamingLipReader(ortReader, { window: o.frames, mode });
      const clip = randomClip(o.frames + o['stream-frames'], 99);
      const frame = (t: number) => clip.data.subarray(t * 88 * 88, (t + 1) * 88 * 88);
      for (let t = 0; t < o.frames; t++) await sr.push(frame(t)); // fill the window
      const times: number[] = [];
      for (let t = o.frames; t < clip.frames; t++) {
        const t0 = performance.now();
        await sr.push(frame(t));
        times.push(performance.now() - t0);
      }
      streaming[`${mode}MsPerFrame`] = median(times);
    }
    await ortReader.dispose();

    const ratio = (a: number | null, b: number | null) => (a && b ? +(a / b).toFixed(2) : null);
    const result = {
      variant: o.checkpoint ? 'checkpoint' : o.variant,
      frames: o.frames,
      threads,
      waitPolicy: spin ? 'spin' : 'block (onnxruntime allow_spinning=0, OMP_WAIT_POLICY=PASSIVE)',
      device: ortReader.device,
      torch: torchInfo,
      msPerClip: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([n, x]) => [n, x === null ? null : +x.toFixed(2)]))])),
      speedup: Object.fromEntries(
        Object.entries(rows).map(([k, v]) => [k, { onnxVsTorchEager: ratio(v.torchEager, v.onnx), libtorchVsTorchEager: ratio(v.torchEager, v.libtorch), onnxVsLibtorch: ratio(v.libtorch, v.onnx) }]),
      ),
      onnxWebWasmBatch1MsPerClip: webMs === null ? null : +webMs.toFixed(2),
      streaming: { window: o.frames, exactMsPerFrame: +streaming.exactMsPerFrame.toFixed(2), fastMsPerFrame: +streaming.fastMsPerFrame.toFixed(2) },
      targets: {
        onnxBatch1AtLeast5xTorchEager: rows.batch1.torchEager && rows.batch1.onnx ? rows.batch1.torchEager / rows.batch1.onnx >= 5 : null,
        streamingExactAtMost5ms: streaming.exactMsPerFrame <= 5,
        streamingFastAtMost5ms: streaming.fastMsPerFrame <= 5,
      },
      notes: libtorchNote ? { libtorch: libtorchNote } : undefined,
    };
    if (o.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`eflip bench infer: variant ${result.variant}, ${o.frames} frames, ${threads} threads, onnxruntime on ${result.device}`);
      for (const [k, v] of Object.entries(result.msPerClip)) {
        const s = result.speedup[k];
        console.log(`  ${k}: onnx ${v.onnx} ms/clip, libtorch ${v.libtorch ?? '-'}, PyTorch eager ${v.torchEager ?? '-'}  → onnx ${s.onnxVsTorchEager ?? '-'}x vs eager, libtorch ${s.libtorchVsTorchEager ?? '-'}x vs eager`);
      }
      if (webMs !== null) console.log(`  onnxruntime-web wasm (1 thread, batch 1): ${webMs.toFixed(1)} ms/clip`);
      console.log(`  streaming (window ${o.frames}): exact ${result.streaming.exactMsPerFrame} ms/frame, fast ${result.streaming.fastMsPerFrame} ms/frame`);
    }
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
