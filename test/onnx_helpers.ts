// Shared helpers of the ONNX/inference tests: temp dirs, the official checker, PyTorch reference.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const PY = '/usr/bin/python3';
export const LIPREADER_PY = path.join(ROOT, 'tools/torch_ref/lipreader.py');

export function tempDir(prefix = 'eflip-onnx-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  // retries: a killed Chromium's helper processes may still write to a profile inside (ENOTEMPTY)
  return {
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }),
  };
}

export interface CheckResult {
  ok: boolean;
  error: string | null;
  opset?: number;
  ir_version?: number;
  ops?: string[];
  metadata?: Record<string, string>;
  inputs?: Record<string, (number | string)[]>;
  outputs?: Record<string, (number | string)[]>;
}

/** onnx.checker.check_model(full_check=True) on each file, one python process. */
export function onnxCheck(files: string[]): Record<string, CheckResult> {
  const out = execFileSync(PY, [path.join(ROOT, 'tools/torch_ref/onnx_check.py'), ...files], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Deterministic pseudo-random floats in [-scale, scale). */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
