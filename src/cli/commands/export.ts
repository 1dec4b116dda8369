// `eflip export`: checkpoint → ONNX (written by eflip's own exporter from the TypeScript
// network definition; EMA weights when present, BatchNorm folded, dynamic batch and time).
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { loadCheckpoint } from '../../io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../../io/onnx/export_model.js';
import { readOnnxSummary } from '../../io/onnx/onnx_reader.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { guardOutputs } from '../../io/output_path.js';

export const def = defineCommand({
  name: 'export',
  usage: 'export --checkpoint PATH --out model.onnx [--features] [--check] [--json]',
  description: [
    'Export a checkpoint (.safetensors from `eflip train`/`init`/`import`) to ONNX (opset 17):',
    "frames (batch, C, time, 88, 88) normalised (C = the model's input channels: 1 grey, 3 RGB) →",
    'log_probs (batch, classes). EMA weights are used when the checkpoint has them; BatchNorm is',
    'folded into the convolutions. Labels, normalisation, crop, input layout, version and the model',
    'config travel as metadata props.',
    '--features also writes X.frontend.onnx (frames with one context frame each side → per-frame',
    'features) and X.backend.onnx (feature window → log_probs), used by `eflip stream`.',
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
  },
  examples: [
    'eflip export --checkpoint runs/t/best.safetensors --out lipreader.onnx --features --check',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const { checkpoint, out, features, json, check } = p.opts;
  if (!checkpoint) throw new UsageError('--checkpoint is required');
  if (!out) throw new UsageError('--out is required');
  if (!out.endsWith('.onnx')) throw new UsageError(`--out should end with .onnx, got '${out}'`);
  if (checkpoint.endsWith('.onnx'))
    throw new UsageError(
      `${checkpoint} is already an ONNX model; --checkpoint takes an eflip checkpoint (.safetensors)`,
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
  for (const part of parts) {
    const file = part === 'full' ? out : `${base}.${part}.onnx`;
    const bytes = exportOnnx(ck, part);
    readOnnxSummary(bytes, file); // self-check of the wire format before writing
    writeFileAtomic(file, bytes);
    written.push({ file, graph: part, bytes: bytes.length });
  }
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
        `  ${w.file}  ${w.graph}  ${(w.bytes / 1e6).toFixed(1)} MB${c ? (c.ok ? '  onnx.checker: ok' : `  onnx.checker: FAILED ${c.error}`) : ''}`,
      );
    }
  }
  return checker && Object.values(checker).some((c) => !c.ok) ? 1 : 0;
}
