// `eflip bench profile`: where inference time goes. onnxruntime's own profiler over batch-1 runs
// of a model, opened as eflip opens it (src/infer/ort_session.ts), its per-node kernel times
// summed by op type and by layer (the node names are the PyTorch module paths, with block
// indices folded: `frontend_3d.efnet.blocks.*.block.depth_wise`). The figures behind "what is in
// the way" in docs/inference.md and docs/webapp.md come from this command.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, BENCH_OPTIONS, defineCommand, UsageError } from '../args.js';
import { loadCheckpoint } from '../../io/onnx/checkpoint_weights.js';
import { pinDimensions } from '../../io/onnx/static_dims.js';
import { onnxSourceFor, modelKindOf } from '../../infer/load_node.js';
import { factsFromMetadata } from '../../infer/onnx_model_source.js';
import { nodePlatform } from '../../infer/ort_node.js';
import { openSession } from '../../infer/ort_session.js';
import { summarize as summarizeModel } from '../../model/summary.js';
import { packageDir } from '../../package_dir.js';
import { randomClip, randomWeights } from './random_clip.js';

export const def = defineCommand({
  name: 'bench profile',
  usage:
    'bench profile [--json] [--model PATH] [--variant T] [--int8] [--runtime node|wasm] [--threads 1] [--runs 5]',
  description: [
    "Where a model's inference time goes: onnxruntime's profiler over --runs batch-1 runs (after",
    'one untimed run), kernel time per run summed by op type and by layer — the node names are',
    "the network's module paths with block indices folded (frontend_3d.efnet.blocks.*.block.depth_wise).",
    'The session is opened as eflip opens it (optimisation level all, the batch and time dims',
    'pinned, blocking workers); node: onnxruntime-node on the CPU, wasm: onnxruntime-web in Node',
    "(the browser's kernels). --model takes an .onnx export or a checkpoint; without it, random T",
    'weights (tools/torch_ref/lipreader.py). --int8 adds the int8 model of the checkpoint (`eflip',
    "export --quantize int8`, calibrated on random clips). Kernel time excludes the runtime's own",
    'overhead between nodes, which the wall time per run includes.',
  ].join('\n'),
  options: {
    ...BENCH_OPTIONS,
    model: {
      type: 'string',
      help: 'an exported .onnx or a .safetensors checkpoint (default: random weights of --variant)',
    },
    variant: { type: 'string', default: 'T', help: 'variant for the random checkpoint' },
    int8: {
      type: 'boolean',
      help: 'also profile the int8 model of the checkpoint (not with an .onnx --model)',
    },
    runtime: {
      type: 'string',
      choices: ['node', 'wasm'],
      default: 'node',
      help: 'onnxruntime-node (CPU) or onnxruntime-web wasm (run in Node)',
    },
    threads: { type: 'threads', default: 1, help: 'intra-op threads' },
    runs: { type: 'int', default: 5, min: 1, max: 200, help: 'profiled runs (after one untimed)' },
    frames: { type: 'int', default: 29, min: 1, max: 100, help: 'frames per clip' },
    top: { type: 'int', default: 12, min: 1, max: 1000, help: 'rows per table (text output)' },
    inner: {
      type: 'string',
      choices: ['wasm'],
      help: '(internal) profile the --model .onnx on onnxruntime-web, the trace on stdout',
    },
  },
  examples: [
    'eflip bench profile --int8',
    'eflip bench profile --int8 --runtime wasm',
    'eflip bench profile --model model.int8.onnx --json',
  ],
});

const BIN = fileURLToPath(new URL('../../../../bin/eflip.js', import.meta.url));

/** One node's kernel time in onnxruntime's profile (Chrome trace format). */
interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  ts?: number;
  args?: { op_name?: string };
}

export interface ProfileRow {
  key: string;
  /** kernel ms per run */
  ms: number;
  /** share of all kernel time, % */
  share: number;
  /** nodes per run */
  nodes: number;
  /** the layer's convolution/linear MACs per run, and the rate its kernels ran at (G MAC/s),
   *  for the conv/matmul ops of layers the model summary itemises (src/model/summary.ts) */
  macs?: number;
  gmacPerS?: number;
}

export interface ModelProfile {
  model: string;
  runtime: 'node' | 'wasm';
  threads: number;
  runs: number;
  /** median wall ms of a profiled run (onnxruntime's `model_run`) */
  runMs: number;
  /** kernel ms per run, all nodes */
  kernelMs: number;
  byOp: ProfileRow[];
  byLayer: ProfileRow[];
}

/** The layer a node belongs to: its module path with indices folded and the suffixes that the
 *  export and onnxruntime's fusions add removed (`…blocks.3.block.depth_wise.0_0/Conv_token_7`
 *  → `…blocks.*.block.depth_wise`). */
export function layerOf(node: string): string {
  return node
    .replace(/_kernel_time$/, '')
    .replace(/\/.*$/, '')
    .replace(/(_token_\d+|_nchwc|_output_\d+)+$/, '')
    .replace(/\.(q|dq)$/, '')
    .replace(/(_\d+)+$/, '')
    .replace(/\.\d+(?=\.|$)/g, '.*')
    .replace(/(\.\*)+$/, '');
}

/** the ops that do a layer's multiply-accumulates (not its activation, padding or requantisation) */
const MAC_OPS =
  /^(Conv|FusedConv|QLinearConv|ConvInteger|Gemm|MatMul|QLinearMatMul|MatMulInteger)$/;

/** Sums the kernel times of a trace by op and by layer, over the runs after the first; rows of a
 *  layer in `layerMacs` (MACs per run) get the rate its kernels ran at. */
export function summarize(
  events: TraceEvent[],
  meta: Omit<ModelProfile, 'runs' | 'runMs' | 'kernelMs' | 'byOp' | 'byLayer'>,
  layerMacs: Record<string, number> = {},
): ModelProfile {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
  if (runs.length < 2) throw new Error('onnxruntime profile: fewer than 2 runs recorded');
  const timed = runs.slice(1);
  // runs follow one another: a node of a timed run starts between the first one's start and the
  // last one's end (the untimed first run's nodes start before)
  const from = timed[0].ts ?? 0;
  const to = (timed[timed.length - 1].ts ?? 0) + (timed[timed.length - 1].dur ?? 0);
  const inTimed = (ts: number) => ts >= from && ts <= to;
  const byOp = new Map<string, { us: number; n: number }>();
  const byLayer = new Map<string, { us: number; n: number }>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !inTimed(e.ts ?? -1)) continue;
    const op = e.args?.op_name ?? '?';
    const us = e.dur ?? 0;
    total += us;
    for (const [m, k] of [
      [byOp, op],
      [byLayer, `${op} ${layerOf(e.name)}`],
    ] as const) {
      const r = m.get(k) ?? { us: 0, n: 0 };
      r.us += us;
      r.n++;
      m.set(k, r);
    }
  }
  if (total <= 0) throw new Error('onnxruntime profile: no node kernel times recorded');
  const rows = (m: Map<string, { us: number; n: number }>): ProfileRow[] =>
    [...m]
      .map(([key, r]) => {
        const ms = r.us / timed.length / 1000;
        const [op, layer] = key.split(' ');
        const macs = layer !== undefined && MAC_OPS.test(op) ? layerMacs[layer] : undefined;
        return {
          key,
          ms: +ms.toFixed(3),
          share: +((100 * r.us) / total).toFixed(1),
          nodes: Math.round(r.n / timed.length),
          ...(macs && ms > 0 ? { macs, gmacPerS: +(macs / ms / 1e6).toFixed(2) } : {}),
        };
      })
      .sort((a, b) => b.ms - a.ms);
  const walls = timed.map((r) => (r.dur ?? 0) / 1000).sort((a, b) => a - b);
  return {
    ...meta,
    runs: timed.length,
    runMs: +walls[walls.length >> 1].toFixed(2),
    kernelMs: +(total / timed.length / 1000).toFixed(2),
    byOp: rows(byOp),
    byLayer: rows(byLayer),
  };
}

/** The trace array in a text that holds it (a profile file, or a child's stdout). */
function parseTrace(text: string, what: string): TraceEvent[] {
  const start = text.indexOf('[');
  const end = text.lastIndexOf(']');
  if (start < 0 || end < start) throw new Error(`${what}: no onnxruntime profile found`);
  return JSON.parse(text.slice(start, end + 1)) as TraceEvent[];
}

/** One model's profile on onnxruntime-node, in this process. */
async function profileNode(
  bytes: Uint8Array,
  label: string,
  input: { data: Float32Array; dims: number[] },
  threads: number,
  runs: number,
  layerMacs: Record<string, number>,
): Promise<ModelProfile> {
  const dir = mkdtempSync(path.join(tmpdir(), 'eflip-profile-'));
  try {
    const p = {
      ...(await nodePlatform('cpu', threads)),
      frontendLanes: undefined,
      spinning: false,
      profiling: { filePrefix: path.join(dir, 'ort') },
    };
    const { session } = await openSession(p, bytes, label);
    const x = new p.ort.Tensor('float32', input.data, input.dims);
    for (let i = 0; i <= runs; i++) await session.run({ frames: x });
    (session as unknown as { endProfiling(): void }).endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime-node wrote no profile');
    const events = parseTrace(readFileSync(path.join(dir, file), 'utf8'), file);
    return summarize(events, { model: label, runtime: 'node', threads }, layerMacs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One model's profile on onnxruntime-web (wasm) in a child process: the wasm build prints its
 *  profile on stdout, which the child's pipe captures whole. */
function profileWasm(
  file: string,
  label: string,
  frames: number,
  threads: number,
  runs: number,
  layerMacs: Record<string, number>,
): ModelProfile {
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'bench',
      'profile',
      '--inner',
      'wasm',
      '--model',
      file,
      '--frames',
      String(frames),
    ].concat(['--threads', String(threads), '--runs', String(runs)]),
    { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (r.status !== 0)
    throw new Error(
      `onnxruntime-web profile of ${label} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    );
  return summarize(
    parseTrace(r.stdout, `${label} (wasm)`),
    { model: label, runtime: 'wasm', threads },
    layerMacs,
  );
}

/** The child of profileWasm: open `file` on onnxruntime-web's wasm-only build (the browser's
 *  CPU kernels) as webPlatform opens it, run it, and let the runtime print its profile. */
async function innerWasm(file: string, frames: number, threads: number, runs: number) {
  const { webPlatform } = await import('../../infer/ort_web.js');
  const p = {
    ...(await webPlatform({
      device: 'wasm',
      wasmPaths: path.join(packageDir('onnxruntime-web'), 'dist') + path.sep,
      threads,
    })),
    profiling: { filePrefix: 'ort' },
  };
  const bytes = new Uint8Array(readFileSync(file));
  const facts = factsFromMetadata(onnxSourceFor(file).metadata, file);
  const size = facts.preprocessing.size;
  const dims = [1, facts.channels, frames, size, size];
  const { session } = await openSession(p, bytes, file);
  const x = new p.ort.Tensor('float32', randomClip(frames, 1, size, facts.channels).data, dims);
  for (let i = 0; i <= runs; i++) await session.run({ frames: x });
  (session as unknown as { endProfiling(): void }).endProfiling();
  await session.release();
}

function table(rows: ProfileRow[], top: number, title: string): string[] {
  const shown = rows.slice(0, top);
  const rest = rows.slice(top);
  const w = Math.max(title.length, ...shown.map((r) => r.key.length));
  const line = (k: string, ms: number, share: number, n: number | string, rate?: number) =>
    `  ${k.padEnd(w)}  ${ms.toFixed(2).padStart(8)} ms  ${share.toFixed(1).padStart(5)} %  ${String(n).padStart(5)}` +
    (rate === undefined ? '' : `  ${rate.toFixed(1).padStart(6)}`);
  return [
    `  ${title.padEnd(w)}  ${'per run'.padStart(11)}  ${'share'.padStart(7)}  nodes` +
      (shown.some((r) => r.gmacPerS !== undefined) ? '  GMAC/s' : ''),
    ...shown.map((r) => line(r.key, r.ms, r.share, r.nodes, r.gmacPerS)),
    ...(rest.length
      ? [
          line(
            `(${rest.length} more)`,
            rest.reduce((a, r) => a + r.ms, 0),
            rest.reduce((a, r) => a + r.share, 0),
            rest.reduce((a, r) => a + r.nodes, 0),
          ),
        ]
      : []),
  ];
}

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  const runtime = o.runtime as 'node' | 'wasm';
  const threads = o.threads ?? 1;
  if (o.inner === 'wasm') {
    if (!o.model) throw new UsageError('--inner wasm needs --model');
    await innerWasm(o.model, o.frames, threads, o.runs);
    return 0;
  }
  const say = (m: string) => {
    if (!o.json) console.error(m);
  };
  if (o.int8 && o.model && modelKindOf(o.model) === 'onnx')
    throw new UsageError('--int8 quantizes a checkpoint; an .onnx --model is profiled as it is');
  const tmp = mkdtempSync(path.join(tmpdir(), 'eflip-bench-profile-'));
  try {
    let weights = o.model;
    if (!weights) {
      say(`initialising random ${o.variant} weights (python3-torch) ...`);
      weights = randomWeights(o.variant, tmp);
    }
    const source = onnxSourceFor(weights);
    const facts = factsFromMetadata(source.metadata, source.source);
    const size = facts.preprocessing.size;
    const dims = [1, facts.channels, o.frames, size, size];
    const input = { data: randomClip(o.frames, 1, size, facts.channels).data, dims };
    const pin = (b: Uint8Array) => pinDimensions(b, { batch: 1, time: o.frames }, weights);
    const models: { label: string; bytes: Uint8Array }[] = [
      {
        label: o.model ? path.basename(o.model) : `${o.variant} (random weights)`,
        bytes: pin(await source.graph('full')),
      },
    ];
    if (o.int8) {
      say('int8: calibrating and quantizing ...');
      const { exportInt8 } = await import('../int8_export.js');
      const calib = Array.from({ length: 8 }, (_, i) => {
        const c = randomClip(o.frames, 1000 + i, size, facts.channels);
        return { data: c.data, dims };
      });
      const q = await exportInt8(loadCheckpoint(weights), calib, { threads });
      models.push({ label: `${models[0].label} int8`, bytes: pin(q.bytes) });
    }
    const layerMacs = summarizeModel(facts.config, o.frames, size).layerMacs;
    const results: ModelProfile[] = [];
    for (const m of models) {
      say(`profiling ${m.label} on ${runtime} (${threads} thread(s), ${o.runs} runs) ...`);
      if (runtime === 'node')
        results.push(await profileNode(m.bytes, m.label, input, threads, o.runs, layerMacs));
      else {
        const file = path.join(tmp, `model${results.length}.onnx`);
        writeFileSync(file, m.bytes);
        results.push(profileWasm(file, m.label, o.frames, threads, o.runs, layerMacs));
      }
    }
    if (o.json) {
      console.log(JSON.stringify({ frames: o.frames, batch: 1, models: results }, null, 2));
      return 0;
    }
    for (const r of results) {
      console.log(
        `${r.model} — ${r.runtime}, ${r.threads} thread(s), batch 1, ${o.frames} frames: ${r.runMs} ms per run (median of ${r.runs}), kernel time ${r.kernelMs} ms`,
      );
      console.log(table(r.byOp, o.top, 'op').join('\n'));
      console.log(table(r.byLayer, o.top, 'op and layer').join('\n'));
    }
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
