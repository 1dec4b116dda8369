// `eflip export`: checkpoint → ONNX (written by eflip's own exporter from the TypeScript
// network definition; EMA weights when present, BatchNorm folded, dynamic batch and time).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { loadCheckpoint } from '../../io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../../io/onnx/export_model.js';
import { readOnnxSummary } from '../../io/onnx/onnx_reader.js';
import { writeFilesAtomic } from '../../io/atomic.js';
import { guardOutputs } from '../../io/output_path.js';
import type { LoadedCheckpoint } from '../../io/onnx/checkpoint_weights.js';
import { DEFAULT_WEIGHT_BITS } from '../../io/onnx/quantize.js';
import type { CalibrationMethod, WeightBits } from '../../io/onnx/quantize.js';
import type { Split } from '../../data/lrw.js';
import type { GraphKind } from '../../io/onnx/network_graph.js';

/** --quantize int8: calibrate on the split, quantize, and compare on the held-out split; with
 *  `features`, the streaming pair too (calibrated on the same clips). */
async function quantizeForExport(
  ck: LoadedCheckpoint,
  fp32: Uint8Array,
  o: {
    root: string;
    calibSplit: Split;
    calibClips: number;
    method: CalibrationMethod;
    weightBits?: WeightBits;
    evalSplit?: Split;
    features: boolean;
    log?: (m: string) => void;
  },
): Promise<{ parts: Record<GraphKind, Uint8Array | undefined>; summary: Record<string, unknown> }> {
  const { exportInt8, exportInt8Features, splitBatches, compareTop1 } =
    await import('../int8_export.js');
  const calib = await splitBatches(ck, o.root, o.calibSplit, {
    limit: o.calibClips,
    log: o.log,
    anyWords: true,
  });
  const how = { method: o.method, weightBits: o.weightBits };
  const q = await exportInt8(ck, calib, how);
  const pair = o.features ? await exportInt8Features(ck, calib, how) : undefined;
  let heldOut: Record<string, unknown> | undefined;
  if (o.evalSplit) {
    const test = await splitBatches(ck, o.root, o.evalSplit, { log: o.log });
    heldOut = { split: o.evalSplit, ...(await compareTop1(fp32, q.bytes, test)) };
  }
  return {
    parts: { full: q.bytes, frontend: pair?.frontend.bytes, backend: pair?.backend.bytes },
    summary: {
      calibrationClips: q.calibrationClips,
      calibrationSplit: o.calibSplit,
      method: o.method,
      weightBits: q.report.weightBits,
      quantized: q.report.quantized,
      keptFloat: q.report.kept,
      widened: q.report.widened,
      heldOut,
    },
  };
}

export const def = defineCommand({
  name: 'export',
  usage:
    'export --checkpoint PATH --out model.onnx [--features] [--quantize int8 --calib DIR [--eval test]] [--check] [--json]',
  description: [
    'Export a checkpoint (.safetensors from `eflip train`/`init`/`import`) to ONNX (opset 17):',
    "frames (batch, C, time, 88, 88) normalised (C = the model's input channels: 1 grey, 3 RGB) →",
    'log_probs (batch, classes). EMA weights are used when the checkpoint has them; BatchNorm is',
    'folded into the convolutions. Labels, normalisation, crop, input layout, version and the model',
    'config travel as metadata props.',
    '--features also writes X.frontend.onnx (frames with one context frame each side → per-frame',
    'features) and X.backend.onnx (feature window → log_probs), used by `eflip stream`.',
    '--quantize int8 writes a static int8 model (QDQ: int8 per-channel weights, uint8 activations',
    'calibrated on a split of the LRW-layout tree --calib) that onnxruntime runs with quantized',
    'kernels; --eval SPLIT prints float vs int8 top-1 and their agreement on a held-out split.',
    'With --features the streaming pair is int8 too, calibrated on the same clips.',
  ].join('\n'),
  options: {
    checkpoint: { type: 'string', alias: 'c', help: 'checkpoint to export (.safetensors)' },
    out: { type: 'string', alias: 'o', help: 'output .onnx file' },
    features: { type: 'boolean', help: 'also write the front-end/back-end pair for streaming' },
    check: {
      type: 'boolean',
      help: 'run the official ONNX checker on the written files (needs python3-onnx)',
    },
    json: { type: 'boolean', help: 'print a JSON summary' },
    quantize: {
      type: 'string',
      default: 'fp32',
      choices: ['fp32', 'int8'],
      help: 'weights/activations: fp32, or int8 (needs --calib)',
    },
    calib: {
      type: 'string',
      help: 'int8: LRW-layout data root (WORD/{train,val,test}/*.mp4) to calibrate on',
    },
    'calib-split': {
      type: 'string',
      default: 'val',
      choices: ['train', 'val', 'test'],
      help: 'int8: split of --calib to calibrate on',
    },
    'calib-clips': {
      type: 'int',
      default: 100,
      min: 1,
      max: 10000,
      help: 'int8: at most this many calibration clips (one of each word in turn; only those are decoded)',
    },
    calibration: {
      type: 'string',
      default: 'minmax',
      choices: ['minmax', 'percentile'],
      help: 'int8: activation ranges from min/max or the 99.999th percentile of |x|',
    },
    eval: {
      type: 'string',
      choices: ['train', 'val', 'test'],
      help: 'int8: held-out split of --calib on which to compare float and int8 top-1',
    },
    'weight-bits': {
      type: 'int',
      min: 7,
      max: 8,
      help: `int8: weight range in bits, 7 (±63) or 8 (±127). x86 CPUs without VNNI add each pair of u8×s8 products in a saturating int16, so 8-bit weights can compute other values there than on VNNI, ARM and wasm; 7 bits compute the same everywhere (default: ${DEFAULT_WEIGHT_BITS})`,
    },
  },
  examples: [
    'eflip export --checkpoint runs/t/best.safetensors --out lipreader.onnx --features --check',
    'eflip export -c assets/demo/model.safetensors -o demo.int8.onnx --quantize int8 --calib data/synth10 --eval test',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const {
    checkpoint,
    out,
    features,
    json,
    check,
    quantize,
    calib,
    calibration,
    eval: evalSplit,
  } = p.opts;
  const weightBits = p.opts['weight-bits'];
  const calibSplit = p.opts['calib-split'];
  const int8 = quantize === 'int8';
  if (!checkpoint) throw new UsageError('--checkpoint is required');
  if (!out) throw new UsageError('--out is required');
  if (!out.endsWith('.onnx')) throw new UsageError(`--out should end with .onnx, got '${out}'`);
  if (checkpoint.endsWith('.onnx'))
    throw new UsageError(
      `${checkpoint} is already an ONNX model; --checkpoint takes an eflip checkpoint (.safetensors)`,
    );
  if (int8) {
    if (!calib)
      throw new UsageError(
        '--quantize int8 needs --calib DIR (an LRW-layout data root, e.g. from `eflip synth`, whose --calib-split clips calibrate the activations)',
      );
    if (!existsSync(calib) || !statSync(calib).isDirectory())
      throw new UsageError(
        `--calib ${calib}: not a directory (give an LRW-layout data root: WORD/{train,val,test}/*.mp4)`,
      );
    if (evalSplit && evalSplit === calibSplit)
      throw new UsageError(
        `--eval ${evalSplit} is the calibration split (--calib-split ${calibSplit}): its figures would not be held out; give another split`,
      );
  } else if (calib || evalSplit)
    throw new UsageError(
      `${calib ? '--calib' : '--eval'} is for --quantize int8 (the fp32 export needs no data)`,
    );
  else if (weightBits !== undefined)
    throw new UsageError(
      '--weight-bits is for --quantize int8 (the fp32 export keeps float weights)',
    );
  const base = out.replace(/\.onnx$/, '');
  const parts = features ? (['full', 'frontend', 'backend'] as const) : (['full'] as const);
  guardOutputs(
    parts.map((part) => ({
      flag: part === 'full' ? '--out' : `--features (${part})`,
      path: part === 'full' ? out : `${base}.${part}.onnx`,
    })),
    [{ flag: '--checkpoint', path: checkpoint }],
  );
  const t0 = performance.now();
  const ck = loadCheckpoint(checkpoint);
  const written: { file: string; graph: string; bytes: number }[] = [];
  let quant: Record<string, unknown> | undefined;
  let int8Parts: Record<GraphKind, Uint8Array | undefined> | undefined;
  if (int8) {
    const q = await quantizeForExport(ck, exportOnnx(ck, 'full'), {
      root: calib!,
      calibSplit,
      calibClips: p.opts['calib-clips'] as number,
      method: calibration,
      weightBits: weightBits as WeightBits | undefined,
      evalSplit,
      features: !!features,
      log: json ? undefined : (m) => console.error(m),
    });
    int8Parts = q.parts;
    quant = q.summary;
  }
  const files = parts.map((part) => {
    const file = part === 'full' ? out : `${base}.${part}.onnx`;
    const bytes = int8Parts?.[part] ?? exportOnnx(ck, part);
    readOnnxSummary(bytes, file); // self-check of the wire format before writing
    written.push({ file, graph: part, bytes: bytes.length });
    return { path: file, data: bytes };
  });
  writeFilesAtomic(files); // the model and its streaming pair: all replaced, or none
  let checker: Record<string, { ok: boolean; error: string | null }> | undefined;
  if (check) {
    const tool = fileURLToPath(
      new URL('../../../../tools/torch_ref/onnx_check.py', import.meta.url),
    );
    const py = process.env.EFLIP_PYTHON ?? '/usr/bin/python3';
    const r = spawnSync(py, [tool, ...written.map((w) => w.file)], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(
        `ONNX checker could not run (${py} with python3-onnx): ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`,
      );
    checker = JSON.parse(r.stdout);
  }
  const summary = {
    checkpoint,
    variant: ck.config.variant ?? 'custom',
    classes: ck.config.classes,
    emaWeights: ck.usedEma,
    opset: 17,
    quantize,
    quantization: quant,
    files: written,
    seconds: +((performance.now() - t0) / 1000).toFixed(2),
    checker,
  };
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log(
      `exported ${basename(checkpoint)} (variant ${summary.variant}, ${summary.classes} classes, ${ck.usedEma ? 'EMA' : 'raw'} weights) in ${summary.seconds} s`,
    );
    for (const w of written) {
      const c = checker?.[w.file];
      console.log(
        `  ${w.file}  ${w.graph}${int8 ? ' int8' : ''}  ${(w.bytes / 1e6).toFixed(1)} MB${c ? (c.ok ? '  onnx.checker: ok' : `  onnx.checker: FAILED ${c.error}`) : ''}`,
      );
    }
    const e = quant?.heldOut as
      | { split: string; clips: number; fp32Top1: number; int8Top1: number; agreement: number }
      | undefined;
    if (quant)
      console.log(
        `  int8: calibrated on ${String(quant.calibrationClips)} ${calibSplit} clips (${calibration}, ${String(quant.weightBits)}-bit weights)${e ? `; held-out ${e.split} (${e.clips} clips): top-1 fp32 ${e.fp32Top1} %, int8 ${e.int8Top1} % (drop ${(e.fp32Top1 - e.int8Top1).toFixed(2)} points), top-1 agreement ${e.agreement} %` : ''}`,
      );
  }
  return checker && Object.values(checker).some((c) => !c.ok) ? 1 : 0;
}
