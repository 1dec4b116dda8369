// PyTorch reference outputs for export/inference parity tests (tools/torch_ref/lipreader.py,
// written from docs/design.md, run with Debian's python3-torch).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { LIPREADER_PY, PY } from './onnx_helpers.js';

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Random-BN weights of a variant (so BN folding is exercised), written by PyTorch. */
export function torchInit(
  dir: string,
  variant: string,
  seed = 0,
  classes = 500,
  config?: object,
  calibrate?: string,
): string {
  const out = path.join(dir, `${variant}.safetensors`);
  const args = [
    LIPREADER_PY,
    'init',
    '--variant',
    variant,
    '--classes',
    String(classes),
    '--seed',
    String(seed),
    '--random-bn',
    '--out',
    out,
  ];
  if (config) args.push('--config', JSON.stringify(config));
  if (calibrate) args.push('--calibrate', calibrate); // perturbed norms + BN statistics from these inputs
  execFileSync(PY, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** PyTorch eval-mode log-probs (and features) for x (B, 1, T, S, S). */
export function torchForward(
  dir: string,
  weights: string,
  x: Float32Array,
  shape: number[],
  tag: string,
): { logp: Float32Array; features: Float32Array } {
  const inp = path.join(dir, `x_${tag}.safetensors`);
  const out = path.join(dir, `y_${tag}.safetensors`);
  writeSafetensors(inp, [['x', { dtype: 'float32', shape, data: bytesOf(x) }]]);
  execFileSync(
    PY,
    [LIPREADER_PY, 'forward', '--weights', weights, '--input', inp, '--out', out, '--features'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const t = readSafetensors(out).tensors;
  const f32 = (k: string) => {
    const r = t.get(k)!;
    return new Float32Array(
      r.data.buffer.slice(r.data.byteOffset, r.data.byteOffset + r.data.byteLength),
    );
  };
  return { logp: f32('logp'), features: f32('features') };
}
