// The README's benchmark table, generated from bench/results.json (the latest measurement of
// each benchmark, recorded by scripts/record-bench.mjs) like the CLI reference is generated
// from the command table. A benchmark without a recorded measurement says so instead of
// keeping an old figure.
import { existsSync, readFileSync } from 'node:fs';

export interface BenchRecord {
  command: string;
  measuredAt: string;
  machine: { cpus: number; cpu: string; loadAverage1m: [number, number] };
  result: any;
}

const n = (x: unknown, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');

/** One row per benchmark: key in bench/results.json, what it measures, and how its result reads. */
const ROWS: { key: string; what: string; fallback: string; summary: (r: any) => string }[] = [
  {
    key: 'ops',
    what: 'per-op overhead and conv/matmul throughput, eflip ÷ PyTorch time (below 1: eflip faster)',
    fallback: 'eflip bench ops --json',
    summary: (r) =>
      `libtorch ${r.libtorch} vs PyTorch ${r.pytorch}, ${r.threads} thread(s): ` +
      (r.results as { name: string; ratio: number }[])
        .map((c) => `\`${c.name}\` ${n(c.ratio)}`)
        .join(', '),
  },
  {
    key: 'train',
    what: "T, one AdamW step, clips/s eflip vs PyTorch (ratio eflip ÷ PyTorch), peak RSS ratio; first eflip's default recipe (train.precision=auto as resolved on that CPU) vs PyTorch eager fp32",
    fallback: 'eflip bench train --json --threads 2',
    summary: (r) =>
      (r.default_recipe
        ? r.default_recipe.error
          ? `default recipe (${r.default_recipe.precision}): ${r.default_recipe.error}; `
          : `default recipe (auto → ${r.default_recipe.precision}, ${r.default_recipe.layout}) ${n(r.default_recipe.eflip_clips_per_s)} vs PyTorch eager fp32 ${n(r.default_recipe.pytorch_fp32_clips_per_s)} (**${n(r.default_recipe.ratio)}×**); `
        : '') +
      `batch ${r.batch}, ${r.input.slice(1).join('×')}, ${r.steps} steps` +
      (r.layout ? `, trunk eflip ${r.layout.eflip} / PyTorch ${r.layout.pytorch}` : '') +
      ': ' +
      ['fp32', 'bf16', 'fp16']
        .filter((m) => r[m])
        .map((m) =>
          r[m].error
            ? `${m}: ${r[m].error}`
            : `${m === 'bf16' ? 'bf16 autocast' : m} ${n(r[m].eflip.clips_per_s)} vs ${n(r[m].pytorch.clips_per_s)} (**${n(r[m].ratio)}**, RSS ${n(r[m].rss_ratio)})`,
        )
        .join('; '),
  },
  {
    key: 'train-cuda',
    what: 'the same step on a GPU: fp32 / bf16 / fp16 + loss scaling, next to PyTorch eager',
    fallback: 'eflip bench train --device cuda --json',
    summary: (r) =>
      ['fp32', 'bf16', 'fp16']
        .filter((m) => r[m])
        .map((m) =>
          r[m].error
            ? `${m}: ${r[m].error}`
            : `${m} ${n(r[m].eflip.clips_per_s)} vs ${n(r[m].pytorch.clips_per_s)} clips/s (**${n(r[m].ratio)}**)`,
        )
        .join('; '),
  },
  {
    key: 'infer',
    what: 'T, 29×88×88, ms/clip; batch 8 ÷ batch 1 per clip; streaming ms per new frame',
    fallback: 'eflip bench infer --json',
    summary: (r) => {
      const b = (k: string) =>
        `${k.replace('batch', 'batch ')}: onnxruntime ${n(r.msPerClip[k].onnx, 1)}, libtorch ${n(r.msPerClip[k].libtorch, 1)}, PyTorch eager ${n(r.msPerClip[k].torchEager, 1)} (onnxruntime **${n(r.speedup[k].onnxVsTorchEager, 1)}×** faster, libtorch ${n(r.speedup[k].libtorchVsTorchEager, 1)}×)`;
      // `--int8`: the int8 model at batch 1 beside them
      const q = r.msPerClip.batch1?.int8;
      const int8 =
        q === undefined
          ? ''
          : `; int8 batch 1: ${n(q, 1)} (**${n(r.speedup.batch1.int8VsTorchEager, 1)}×** PyTorch eager, ${n(r.speedup.batch1.int8VsOnnx, 2)}× onnxruntime fp32)`;
      // batch 8's time per clip ÷ batch 1's, per precision (target ≤ 0.6)
      const br = r.batch8VsBatch1PerClip;
      const batching = br
        ? `; batch 8 ÷ batch 1 per clip: fp32 **${n(br.fp32)}**` +
          (br.int8 === undefined ? '' : `, int8 **${n(br.int8)}**`)
        : '';
      // a window every other frame (`hop: 2`), when the run measured it
      const h2 = r.streaming.hops?.hop2;
      const hop2 = h2
        ? `; a window every 2nd frame: ${n(h2.fast.msPerFrame, 1)} ms (fast), ${n(h2.exact.msPerFrame, 1)} ms (exact)`
        : '';
      // the int8 streaming pair (`--int8`), a window per frame and every 2nd frame; one push
      // awaited at a time (a live source), and pipelined as `eflip stream` runs a video
      const h1 = r.streaming.hops?.hop1;
      const piped = h1?.fast.int8?.pipelinedMsPerFrame;
      const int8Stream =
        h1?.fast.int8 && h2?.fast.int8
          ? `; int8 streaming, one frame at a time: ${n(h1.fast.int8.msPerFrame, 1)} ms (fast), ${n(h1.exact.int8.msPerFrame, 1)} ms (exact)` +
            (piped === undefined
              ? ''
              : `; pipelined (\`eflip stream\`): **${n(piped, 1)} ms** (fast), **${n(h1.exact.int8.pipelinedMsPerFrame, 1)} ms** (exact)`) +
            `; every 2nd frame ${n(h2.fast.int8.msPerFrame, 1)} ms (fast), ${n(h2.exact.int8.msPerFrame, 1)} ms (exact)`
          : '';
      // front-end lanes ÷ onnxruntime's intra-op threads alone, batch 1 (when the run had lanes)
      const l = r.lanes?.count ? r.lanes.batch1 : null;
      const lanes = l
        ? `; front-end lanes (${r.lanes.count}) ÷ intra-op threads, batch 1: fp32 ${n(l.fp32)}` +
          (l.int8 === undefined ? '' : `, int8 ${n(l.int8)}`)
        : '';
      return `${r.threads} threads: ${Object.keys(r.msPerClip).map(b).join('; ')}${int8}${lanes}${batching}; onnxruntime-web wasm ${n(r.onnxWebWasmBatch1MsPerClip, 0)}; streaming **${n(r.streaming.fastMsPerFrame, 1)} ms** (fast), ${n(r.streaming.exactMsPerFrame, 1)} ms (exact)${hop2}${int8Stream}`;
    },
  },
  {
    key: 'train-ddp',
    what: 'data-parallel scaling: T, Gloo on 127.0.0.1, N processes vs 1',
    fallback: 'eflip bench train --nproc-per-node 2 --json',
    summary: (r) =>
      `batch ${r.batch_per_process} per process, ${r.threads_per_process} thread(s) each: ${n(r.single.clips_per_s)} → ${n(r.data_parallel.clips_per_s)} clips/s (${n(r.speedup)}×, **${n(100 * r.scaling_efficiency, 1)} % efficiency**)`,
  },
  {
    key: 'data',
    what: 'decode, prepare, augmenting loader, clips/s',
    fallback: 'eflip bench data --json',
    summary: (r) =>
      `decode ${n(r.decode?.batched16?.clipsPerSec, 1)} (16 clips per ffmpeg); prepare ${n(r.prepare?.clipsPerSecPerCore, 1)} per core; loader with every augmentation ${n(r.loader?.clipsPerSec, 0)} (batch ${r.loader?.batch}, ${r.loader?.workers} workers); peak RSS ${r.peakRssMiB} MiB`,
  },
  {
    key: 'roi',
    what: 'face/mouth-ROI pipeline, frames/s',
    fallback: 'eflip bench roi --json',
    summary: (r) =>
      (r.results as any[])
        .filter(
          (x) =>
            x.fps !== undefined &&
            (String(x.config).startsWith('default') || String(x.config).startsWith('end to end')),
        )
        .map(
          (x) =>
            `${x.size} ${String(x.config).startsWith('end') ? 'mp4 → ROI mp4' : 'pipeline'} ${n(x.fps, 1)}${
              x.firstFileFps !== undefined
                ? ` (median of ${x.runsFps.length} files; a process's first file ${n(x.firstFileFps, 1)})`
                : ''
            }`,
        )
        .join('; ') +
      (r.lrw
        ? `; LRW landmarks (\`roi --landmarks-only\`, 29-frame 256×256 clips): ${n(r.lrw.cpuSPerClip, 2)} s CPU per clip, ffmpeg included → ~${n(r.lrw.lrwCoreHours, 0)} core-hours for LRW's ${r.lrw.lrwClips} clips, ~${n(r.lrw.lrwHoursOn16Cores, 1)} h on 16 cores (estimate)`
        : ''),
  },
  {
    key: 'webapp',
    what: 'the web app in headless Chromium: model alone ms/clip; webcam path frames/s and ms per frame',
    fallback: 'eflip bench webapp --json',
    summary: (r) => {
      // the model alone, per model (records before the T lines name only the served one)
      const alone = new Map<string, any[]>();
      for (const m of r.modelOnly as any[]) {
        const k = String(m.model ?? r.model);
        alone.set(k, [...(alone.get(k) ?? []), m]);
      }
      return (
        [...alone]
          .map(
            ([model, ms], i) =>
              `${i ? '' : 'model alone '}(${model.split('/').slice(-2).join('/')}): ` +
              ms
                .map(
                  (m) =>
                    // records since front-end lanes: the page's default (1 thread + a lane per core)
                    `${m.threads} thread(s)${m.lanes ? ` + ${m.lanes} lanes` : ''} ${m.lanes ? `**${n(m.msPerClip, 1)}**` : n(m.msPerClip, 1)} ms/clip`,
                )
                .join(', '),
          )
          .join('; ') +
        '; webcam (' +
        String(r.camera) +
        '): ' +
        (r.runs as any[])
          .map(
            (x) =>
              `${x.device}, model in ${x.modelIn}${
                // records since the detector worker: where the face detections ran
                x.detectorIn ? `, detector in ${x.detectorIn}` : ''
              }: **${n(x.framesPerSecond, 1)} frames/s**${
                // records since the 25 frames/s timeline: tracked frames of the reader's slots
                x.camera
                  ? ` tracked, ${n(100 * x.camera.newFrameShare, 0)} % of the reader's ${n(x.camera.slotsPerSecond, 1)} slots/s new`
                  : ''
              } (detector ${n(x.msPerFrame.detector, 1)}, landmarks ${n(x.msPerFrame.landmarks, 1)}, check ${n(x.msPerFrame.trackCheck, 1)}, model ${n(x.msPerFrame.model, 1)} ms)`,
          )
          .join('; ')
      );
    },
  },
];

/** The markdown table for the recorded results. */
export function benchTable(results: Record<string, BenchRecord>): string {
  const lines = ['| command | what | latest measurement |', '|---|---|---|'];
  for (const row of ROWS) {
    const rec = results[row.key];
    if (!rec) {
      lines.push(
        `| \`${row.fallback}\` | ${row.what} | **not measured** (no record in bench/results.json${row.key === 'train-cuda' ? '; needs a GPU: `scripts/gpu-check.sh`' : ''}) |`,
      );
      continue;
    }
    const m = rec.machine;
    let text: string;
    try {
      text = row.summary(rec.result);
    } catch (e) {
      text = `unreadable record (${(e as Error).message})`;
    }
    lines.push(
      `| \`${rec.command}\` | ${row.what} | ${text} — ${rec.measuredAt}, ${m.cpus} CPUs, load ${m.loadAverage1m.join('→')} |`,
    );
  }
  return lines.join('\n');
}

export function benchTableFromFile(file: string): string {
  return benchTable(
    existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, BenchRecord>) : {},
  );
}
