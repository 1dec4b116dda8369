// `eflip bench infer`: ms/clip of the T network for onnxruntime, the libtorch backend and
// PyTorch eager (python3-torch) in the same run, plus streaming cost per new frame.
// The machine may be shared and noisy, so the runtimes are measured interleaved, in rounds
// (onnx, libtorch, PyTorch, onnx, ...; PyTorch stays up in a child process), and speedups
// are medians of per-round ratios.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, BENCH_OPTIONS, defineCommand } from '../args.js';
import { loadLipReader, loadOnnxLipReader, onnxSourceFor } from '../../infer/load_node.js';
import { pushAll, StreamingLipReader } from '../../infer/streaming.js';
import { OnnxLipReader } from '../../infer/onnx_lipreader.js';
import { nodePlatform, type NodeDevice } from '../../infer/ort_node.js';
import type { Clip, LipReader } from '../../infer/types.js';
import { BENCH_PYTHON, randomClip, randomWeights } from './random_clip.js';
import { packageDir } from '../../package_dir.js';

export const def = defineCommand({
  name: 'bench infer',
  usage:
    'bench infer [--json] [--checkpoint PATH] [--variant T] [--threads N] [--rounds N] [--iters N] [--int8]',
  description: [
    'Inference speed of one variant (default T, 29×88×88 clips) at batch 1 and 8: ms/clip for',
    "onnxruntime (eflip's own export), the libtorch backend and PyTorch eager (python3-torch, same",
    'weights, same thread count and wait policy), measured interleaved in rounds, with speedups as',
    'medians of per-round ratios; onnxruntime-web (wasm) at batch 1; streaming ms per new frame',
    '(a window per frame, and every 2nd and 3rd frame: hop 2, 3).',
    'Without --checkpoint, random weights are initialised by tools/torch_ref/lipreader.py.',
    '--int8 adds the int8 model (`eflip export --quantize int8`, calibrated on random clips) to the',
    'same interleaved rounds, and its streaming pair (`--features`) to the streaming rounds; the',
    'JSON gives batch 8 ÷ batch 1 per clip for each precision (batch8VsBatch1PerClip).',
  ].join('\n'),
  options: {
    ...BENCH_OPTIONS,
    checkpoint: {
      type: 'string',
      help: 'model checkpoint (.safetensors); default: a fresh random one',
    },
    variant: { type: 'string', default: 'T', help: 'variant for the random checkpoint' },
    threads: { type: 'threads', help: 'threads for every runtime (default: all cores)' },
    rounds: { type: 'int', default: 3, help: 'interleaved measurement rounds' },
    iters: {
      type: 'int',
      default: 4,
      help: 'timed runs per runtime per round at batch 1 (batch 8: half)',
    },
    frames: { type: 'int', default: 29, help: 'frames per clip' },
    'stream-frames': { type: 'int', default: 120, help: 'frames pushed to measure streaming' },
    int8: {
      type: 'boolean',
      help: 'also time the int8 model (static QDQ quantization of the same weights)',
    },
    spin: {
      type: 'boolean',
      help: 'let idle worker threads spin in every runtime (default: block — fairer on a busy machine)',
    },
  },
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PY = BENCH_PYTHON;
const BATCHES = [1, 8];
/** streaming hops measured: a window per frame, every other frame, every third frame */
const STREAM_HOPS = [1, 2, 3];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `b` random clips shaped as the model takes them (its input size and channels) */
const batchOf = (b: number, frames: number, r: LipReader) =>
  Array.from({ length: b }, (_, i) => randomClip(frames, i + 1, r.preprocessing.size, r.channels));

async function timeReader(r: LipReader, clips: Clip[], iters: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await r.predictBatch(clips);
    times.push((performance.now() - t0) / clips.length);
  }
  return median(times);
}

/** PyTorch eager in a long-lived child (tools/torch_ref/onnx_bench_torch.py --serve). */
class TorchEagerServer {
  private lines: AsyncIterator<string>;
  private constructor(private child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  info: { torch: string; threads: number } = { torch: '', threads: 0 };
  static async start(
    weights: string,
    frames: number,
    size: number,
    threads: number,
  ): Promise<TorchEagerServer> {
    const child = spawn(
      PY,
      [
        path.join(ROOT, 'tools/torch_ref/onnx_bench_torch.py'),
        '--weights',
        weights,
        '--frames',
        String(frames),
        '--size',
        String(size),
        '--threads',
        String(threads),
        '--serve',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const s = new TorchEagerServer(child);
    const hello = await s.lines.next();
    if (hello.done)
      throw new Error(`PyTorch eager benchmark did not start: ${err.trim().split('\n').pop()}`);
    s.info = JSON.parse(hello.value);
    return s;
  }
  async time(batch: number, iters: number): Promise<number> {
    this.child.stdin.write(`${batch} ${iters}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error('PyTorch eager benchmark exited');
    return JSON.parse(r.value).ms_per_clip;
  }
  stop(): void {
    this.child.stdin.end();
  }
}

const log = (json: boolean | undefined, msg: string) => {
  if (!json) console.error(msg);
};

/** onnx/int8: onnxruntime as eflip runs it (front-end lanes on a CPU with 2+ threads);
 *  …IntraOp: the same model on onnxruntime's intra-op threads alone (the lanes' A/B) */
type Runtime = 'onnx' | 'onnxIntraOp' | 'libtorch' | 'torchEager' | 'int8' | 'int8IntraOp';

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  const threads = o.threads ?? availableParallelism();
  // One wait policy for every runtime: onnxruntime's allow_spinning and OpenMP's (libtorch in
  // this process, PyTorch in the child) — set before libtorch is loaded.
  if (o.spin) process.env.EFLIP_ORT_SPIN = '1';
  else {
    if (process.env.EFLIP_ORT_SPIN === '1') delete process.env.EFLIP_ORT_SPIN; // keep '0' (no streaming back-end spin)
    process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  }
  const tmp = mkdtempSync(path.join(tmpdir(), 'eflip-bench-infer-'));
  let py: TorchEagerServer | null = null;
  try {
    let weights = o.checkpoint;
    if (!weights) {
      log(o.json, `initialising random ${o.variant} weights (python3-torch) ...`);
      weights = randomWeights(o.variant, tmp);
    }
    const notes: Record<string, string> = {};
    log(o.json, `loading runtimes (${threads} threads) ...`);
    const ortReader = await loadOnnxLipReader(weights, { device: 'auto', threads });
    // the lanes' A/B: the same model without them (only when eflip runs it with lanes)
    const intraOpPlatform = async (device: NodeDevice) => ({
      ...(await nodePlatform(device, threads)),
      frontendLanes: undefined,
    });
    const laneCount = ortReader.frontendLanes;
    const intraOpReader = laneCount
      ? await OnnxLipReader.open(await intraOpPlatform('auto'), onnxSourceFor(weights))
      : null;
    let torchReader: LipReader | null = null;
    try {
      torchReader = await loadLipReader(weights, { runtime: 'torch', threads });
    } catch (e) {
      notes.libtorch = (e as Error).message;
    }
    if (existsSync(PY)) {
      try {
        py = await TorchEagerServer.start(weights, o.frames, ortReader.preprocessing.size, threads);
      } catch (e) {
        notes.torchEager = (e as Error).message;
      }
    } else notes.torchEager = `${PY} not found`;

    const clips = Object.fromEntries(BATCHES.map((b) => [b, batchOf(b, o.frames, ortReader)]));
    // --int8: the quantized model of the same weights (calibrated on 8 other random clips)
    let int8Reader: OnnxLipReader | null = null;
    let int8IntraOpReader: OnnxLipReader | null = null;
    if (o.int8) {
      log(o.json, 'int8: calibrating and quantizing ...');
      const { openInt8Readers } = await import('./infer_int8.js');
      const calib = Array.from({ length: 8 }, (_, i) =>
        randomClip(o.frames, 1000 + i, ortReader.preprocessing.size, ortReader.channels),
      );
      [int8Reader, int8IntraOpReader = null] = await openInt8Readers(weights, calib, threads, [
        await nodePlatform('cpu', threads),
        ...(intraOpReader ? [await intraOpPlatform('cpu')] : []),
      ]);
    }
    const iters = (b: number) => (b === 1 ? o.iters : Math.max(1, Math.ceil(o.iters / 2)));
    const samples: Record<string, Record<Runtime, number[]>> = {};
    for (const b of BATCHES) {
      samples[b] = {
        onnx: [],
        onnxIntraOp: [],
        libtorch: [],
        torchEager: [],
        int8: [],
        int8IntraOp: [],
      };
      await ortReader.predictBatch(clips[b]); // warm-up
      await intraOpReader?.predictBatch(clips[b]);
      if (int8Reader) await int8Reader.predictBatch(clips[b]);
      await int8IntraOpReader?.predictBatch(clips[b]);
      if (torchReader) await torchReader.predictBatch(clips[b]);
      if (py) await py.time(b, 1);
    }
    for (let r = 0; r < o.rounds; r++) {
      log(o.json, `round ${r + 1}/${o.rounds} ...`);
      for (const b of BATCHES) {
        samples[b].onnx.push(await timeReader(ortReader, clips[b], iters(b)));
        if (intraOpReader)
          samples[b].onnxIntraOp.push(await timeReader(intraOpReader, clips[b], iters(b)));
        if (torchReader)
          samples[b].libtorch.push(await timeReader(torchReader, clips[b], iters(b)));
        if (py) samples[b].torchEager.push(await py.time(b, iters(b)));
        if (int8Reader) samples[b].int8.push(await timeReader(int8Reader, clips[b], iters(b)));
        if (int8IntraOpReader)
          samples[b].int8IntraOp.push(await timeReader(int8IntraOpReader, clips[b], iters(b)));
      }
    }
    await torchReader?.dispose();
    await intraOpReader?.dispose();
    await int8IntraOpReader?.dispose();

    // onnxruntime-web (wasm, 1 thread) as a browser would run it, batch 1 only
    let webMs: number | null = null;
    try {
      log(o.json, 'onnxruntime-web wasm (batch 1) ...');
      const { webPlatform } = await import('../../infer/ort_web.js');
      const web = await OnnxLipReader.open(
        await webPlatform({
          device: 'wasm',
          wasmPaths: path.join(packageDir('onnxruntime-web'), 'dist') + path.sep,
        }),
        onnxSourceFor(weights),
      );
      await web.predictClip(clips[1][0]);
      webMs = await timeReader(web, clips[1], Math.max(2, o.iters));
      await web.dispose();
    } catch (e) {
      notes.onnxWeb = (e as Error).message;
    }

    log(o.json, 'streaming ...');
    // Per mode and hop, in interleaved rounds on fresh readers: the median time of one push at
    // hop 1 (a window per frame), and for every hop the mean cost per new frame (all pushes'
    // time ÷ frames: with hop 2 every other push only stores its frame) and the latency of the
    // pushes that end a window.
    // The same with a blocking back-end (the default back-end spins, see OrtPlatform.spinBackend):
    // spinning helps while the front-end runs on one thread (fast, hop 1) and competes with the
    // front-end's second thread otherwise; this says which wins on the machine at hand.
    const blockingBackend =
      process.env.EFLIP_ORT_SPIN === '0'
        ? null
        : await OnnxLipReader.open(
            {
              ...(await nodePlatform('auto', threads, !!o.spin)),
              spinBackend: false,
              frontendLanes: undefined, // streaming does not use them
            },
            onnxSourceFor(weights),
          );
    // `:piped`: the same frames through pushAll (two in flight, as `eflip stream` runs a video:
    // a frame's front-end on a lane while the previous window's back-end runs here)
    type StreamKey = `${'exact' | 'fast'}:${number}${'' | ':block' | ':int8'}${'' | ':piped'}`;
    const streamRuns: Partial<
      Record<StreamKey, { push: number[]; mean: number[]; window: number[] }>
    > = {};
    const F = o.frames + o['stream-frames'];
    const clip = randomClip(F, 99, ortReader.preprocessing.size, ortReader.channels);
    const per = clip.size * clip.size;
    // frame t as push() takes it: C·S·S (the clip is C-major: (C, T, S, S)), prepared up front
    const frames = Array.from({ length: F }, (_, t) => {
      if (clip.channels === 1) return clip.data.subarray(t * per, (t + 1) * per);
      const f = new Float32Array(clip.channels * per);
      for (let c = 0; c < clip.channels; c++)
        f.set(clip.data.subarray((c * F + t) * per, (c * F + t + 1) * per), c * per);
      return f;
    });
    const frame = (t: number) => frames[t];
    const readers = [
      { reader: ortReader, tag: '' as const },
      ...(blockingBackend ? [{ reader: blockingBackend, tag: ':block' as const }] : []),
      // --int8: the int8 streaming pair (front-end and back-end quantized with the int8 model's
      // calibration clips; src/cli/int8_export.ts exportInt8Features)
      ...(int8Reader ? [{ reader: int8Reader, tag: ':int8' as const }] : []),
    ];
    for (let r = 0; r < o.rounds; r++) {
      for (const hop of STREAM_HOPS) {
        for (const mode of ['exact', 'fast'] as const) {
          for (const { reader, tag } of readers) {
            const sr = new StreamingLipReader(reader, { window: o.frames, mode, hop });
            for (let t = 0; t < o.frames; t++) await sr.push(frame(t)); // fill the window
            const run = (streamRuns[`${mode}:${hop}${tag}`] ??= { push: [], mean: [], window: [] });
            const t0 = performance.now();
            for (let t = o.frames; t < clip.frames; t++) {
              const p0 = performance.now();
              const step = await sr.push(frame(t));
              const ms = performance.now() - p0;
              run.push.push(ms);
              if (step.frame === (mode === 'fast' ? t - 1 : t)) run.window.push(ms);
            }
            run.mean.push((performance.now() - t0) / o['stream-frames']);
            if (tag === ':block') continue; // the pipeline's back-end blocks anyway
            const piped = new StreamingLipReader(reader, { window: o.frames, mode, hop });
            for (let t = 0; t < o.frames; t++) await piped.push(frame(t));
            const t1 = performance.now();
            await pushAll(piped, frames.slice(o.frames), () => undefined);
            (streamRuns[`${mode}:${hop}${tag}:piped`] ??= {
              push: [],
              mean: [],
              window: [],
            }).mean.push((performance.now() - t1) / o['stream-frames']);
          }
        }
      }
    }
    await blockingBackend?.dispose();
    await int8Reader?.dispose();
    await ortReader.dispose();
    const streamMean = (k: StreamKey) => {
      const v = streamRuns[k]?.mean;
      return v?.length ? median(v) : null;
    };

    const r2 = (x: number) => +x.toFixed(2);
    const med = (xs: number[]) => (xs.length ? r2(median(xs)) : null);
    const ratio = (b: number, num: Runtime, den: Runtime) => {
      const a = samples[b][num],
        c = samples[b][den];
      return a.length && c.length ? r2(median(a.map((x, i) => x / c[i]))) : null;
    };
    /** batch 8 ÷ batch 1 per clip, per precision (median of per-round ratios) */
    const batchRatio = (rt: Runtime) =>
      samples[1][rt].length && samples[8][rt].length
        ? r2(median(samples[8][rt].map((x, i) => x / samples[1][rt][i])))
        : null;
    const result = {
      variant: o.checkpoint ? 'checkpoint' : o.variant,
      frames: o.frames,
      threads,
      waitPolicy: o.spin
        ? 'spin'
        : 'block (onnxruntime allow_spinning=0, OMP_WAIT_POLICY=PASSIVE); the streaming back-end spins unless EFLIP_ORT_SPIN=0',
      rounds: o.rounds,
      device: ortReader.device,
      torch: py?.info ?? null,
      msPerClip: Object.fromEntries(
        BATCHES.map((b) => [
          `batch${b}`,
          {
            onnx: med(samples[b].onnx),
            libtorch: med(samples[b].libtorch),
            torchEager: med(samples[b].torchEager),
            ...(int8Reader ? { int8: med(samples[b].int8) } : {}),
          },
        ]),
      ),
      speedup: Object.fromEntries(
        BATCHES.map((b) => [
          `batch${b}`,
          {
            onnxVsTorchEager: ratio(b, 'torchEager', 'onnx'),
            libtorchVsTorchEager: ratio(b, 'torchEager', 'libtorch'),
            onnxVsLibtorch: ratio(b, 'libtorch', 'onnx'),
            ...(int8Reader
              ? {
                  int8VsTorchEager: ratio(b, 'torchEager', 'int8'),
                  int8VsOnnx: ratio(b, 'onnx', 'int8'),
                }
              : {}),
          },
        ]),
      ),
      /** front-end lanes (worker threads, one-thread sessions) against onnxruntime's intra-op
       *  threads alone, same model: ms/clip with ÷ without, per batch and precision */
      lanes: {
        count: laneCount,
        ...Object.fromEntries(
          BATCHES.map((b) => [
            `batch${b}`,
            {
              fp32: ratio(b, 'onnx', 'onnxIntraOp'),
              ...(int8Reader ? { int8: ratio(b, 'int8', 'int8IntraOp') } : {}),
            },
          ]),
        ),
      },
      /** batch 8's time per clip ÷ batch 1's (target ≤ 0.6), per precision */
      batch8VsBatch1PerClip: {
        fp32: batchRatio('onnx'),
        ...(int8Reader ? { int8: batchRatio('int8') } : {}),
      },
      onnxWebWasmBatch1MsPerClip: webMs === null ? null : r2(webMs),
      streaming: {
        window: o.frames,
        exactMsPerFrame: r2(median(streamRuns['exact:1']!.push)),
        fastMsPerFrame: r2(median(streamRuns['fast:1']!.push)),
        /** per hop: mean ms per new frame with each push awaited before the next (a live source),
         *  the median latency of a push that ends a window, and the mean ms per new frame
         *  pipelined (`pipelinedMsPerFrame`: two pushes in flight, as `eflip stream` runs a video) */
        hops: Object.fromEntries(
          STREAM_HOPS.map((h) => [
            `hop${h}`,
            Object.fromEntries(
              (['exact', 'fast'] as const).map((m) => [
                m,
                {
                  msPerFrame: r2(streamMean(`${m}:${h}`)!),
                  windowLatencyMs: r2(median(streamRuns[`${m}:${h}`]!.window)),
                  pipelinedMsPerFrame: r2(streamMean(`${m}:${h}:piped`)!),
                  /** the same with the back-end's workers blocking (null: they already block) */
                  msPerFrameBlockingBackend:
                    streamMean(`${m}:${h}:block`) === null
                      ? null
                      : r2(streamMean(`${m}:${h}:block`)!),
                  /** the int8 streaming pair (--int8) */
                  ...(int8Reader
                    ? {
                        int8: {
                          msPerFrame: r2(streamMean(`${m}:${h}:int8`)!),
                          windowLatencyMs: r2(median(streamRuns[`${m}:${h}:int8`]!.window)),
                          pipelinedMsPerFrame: r2(streamMean(`${m}:${h}:int8:piped`)!),
                        },
                      }
                    : {}),
                },
              ]),
            ),
          ]),
        ),
      },
      targets: {
        onnxBatch1AtLeast5xTorchEager:
          ratio(1, 'torchEager', 'onnx') === null ? null : ratio(1, 'torchEager', 'onnx')! >= 5,
        /** per new frame as `eflip stream` runs a video (pipelined): exact ≤ 4 ms, fast ≤ 2.5 ms
         *  (hop 1: a window per frame; hop 2: every other) */
        ...Object.fromEntries(
          STREAM_HOPS.flatMap((h) => [
            [`streamingExactAtMost4msHop${h}`, streamMean(`exact:${h}:piped`)! <= 4],
            [`streamingFastAtMost2_5msHop${h}`, streamMean(`fast:${h}:piped`)! <= 2.5],
          ]),
        ),
        batch8AtMost0_6xBatch1PerClip:
          batchRatio('onnx') === null ? null : batchRatio('onnx')! <= 0.6,
        ...(int8Reader
          ? {
              int8Batch1AtMost10ms: median(samples[1].int8) <= 10,
              int8Batch8AtMost0_6xBatch1PerClip: batchRatio('int8')! <= 0.6,
              ...Object.fromEntries(
                STREAM_HOPS.flatMap((h) => [
                  [`int8StreamingExactAtMost4msHop${h}`, streamMean(`exact:${h}:int8:piped`)! <= 4],
                  [
                    `int8StreamingFastAtMost2_5msHop${h}`,
                    streamMean(`fast:${h}:int8:piped`)! <= 2.5,
                  ],
                ]),
              ),
              int8Batch1AtLeast15xTorchEager:
                ratio(1, 'torchEager', 'int8') === null
                  ? null
                  : ratio(1, 'torchEager', 'int8')! >= 15,
            }
          : {}),
      },
      notes: Object.keys(notes).length ? notes : undefined,
    };
    if (o.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(
        `eflip bench infer: variant ${result.variant}, ${o.frames} frames, ${threads} threads (${o.spin ? 'spinning' : 'blocking'} workers), ${o.rounds} interleaved rounds, onnxruntime on ${result.device}`,
      );
      for (const b of BATCHES) {
        const v = result.msPerClip[`batch${b}`],
          s = result.speedup[`batch${b}`];
        console.log(
          `  batch ${b}: onnx ${v.onnx} ms/clip, libtorch ${v.libtorch ?? '-'}, PyTorch eager ${v.torchEager ?? '-'}  → onnx ${s.onnxVsTorchEager ?? '-'}x vs eager, libtorch ${s.libtorchVsTorchEager ?? '-'}x vs eager`,
        );
      }
      if (int8Reader)
        for (const b of BATCHES) {
          const v = result.msPerClip[`batch${b}`] as { int8?: number | null };
          const s = result.speedup[`batch${b}`] as {
            int8VsTorchEager?: number | null;
            int8VsOnnx?: number | null;
          };
          console.log(
            `  batch ${b}: int8 ${v.int8} ms/clip → ${s.int8VsTorchEager ?? '-'}x vs eager, ${s.int8VsOnnx ?? '-'}x vs onnx fp32`,
          );
        }
      if (result.lanes.count) {
        const l = result.lanes as unknown as Record<string, { fp32: number; int8?: number }>;
        console.log(
          `  front-end lanes (${result.lanes.count}) ÷ intra-op threads alone, ms/clip: ` +
            BATCHES.map(
              (b) =>
                `batch ${b} fp32 ${l[`batch${b}`].fp32 ?? '-'}` +
                (int8Reader ? `, int8 ${l[`batch${b}`].int8 ?? '-'}` : ''),
            ).join('; '),
        );
      }
      const br = result.batch8VsBatch1PerClip as { fp32: number | null; int8?: number | null };
      console.log(
        `  batch 8 ÷ batch 1 per clip: fp32 ${br.fp32 ?? '-'}` +
          (br.int8 === undefined ? '' : `, int8 ${br.int8 ?? '-'}`) +
          ' (target ≤ 0.6)',
      );
      if (webMs !== null)
        console.log(`  onnxruntime-web wasm (1 thread, batch 1): ${webMs.toFixed(1)} ms/clip`);
      console.log(
        `  streaming (window ${o.frames}): exact ${result.streaming.exactMsPerFrame} ms/frame, fast ${result.streaming.fastMsPerFrame} ms/frame`,
      );
      for (const h of STREAM_HOPS) {
        const v = result.streaming.hops[`hop${h}`] as Record<
          string,
          {
            msPerFrame: number;
            pipelinedMsPerFrame: number;
            int8?: { msPerFrame: number; pipelinedMsPerFrame: number };
          }
        >;
        console.log(
          `  streaming pipelined (eflip stream), a window every ${h} frame(s): exact ${v.exact.pipelinedMsPerFrame} ms/frame, fast ${v.fast.pipelinedMsPerFrame} ms/frame` +
            (v.exact.int8 && v.fast.int8
              ? `; int8 exact ${v.exact.int8.pipelinedMsPerFrame}, fast ${v.fast.int8.pipelinedMsPerFrame}`
              : ''),
        );
        if (v.exact.int8 && v.fast.int8)
          console.log(
            `  streaming int8, a window every ${h} frame(s): exact ${v.exact.int8.msPerFrame} ms/frame, fast ${v.fast.int8.msPerFrame} ms/frame (fp32 ${v.exact.msPerFrame}, ${v.fast.msPerFrame})`,
          );
      }
      for (const h of STREAM_HOPS.filter((x) => x > 1)) {
        const v = result.streaming.hops[`hop${h}`];
        console.log(
          `  streaming, a window every ${h} frames: exact ${v.exact.msPerFrame} ms/frame (${v.exact.windowLatencyMs} ms per window), fast ${v.fast.msPerFrame} ms/frame (${v.fast.windowLatencyMs} ms per window)` +
            (v.fast.msPerFrameBlockingBackend === null
              ? ''
              : `; blocking back-end: exact ${v.exact.msPerFrameBlockingBackend}, fast ${v.fast.msPerFrameBlockingBackend}`),
        );
      }
      for (const [k, v] of Object.entries(notes)) console.log(`  note: ${k}: ${v}`);
    }
    return 0;
  } finally {
    py?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
