// Shared helpers of the MODEL tests: run the PyTorch reference scripts (tools/torch_ref/*.py)
// with Debian's python3-torch, in a fresh temp dir per test file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const PYTHON = process.env.EFLIP_TORCH_PYTHON ?? '/usr/bin/python3';
export const TORCH_REF = join(ROOT, 'tools/torch_ref');

let torchOk: boolean | undefined;
/** Whether the reference python has torch (tests that need it are skipped with a reason otherwise). */
export function hasTorch(): boolean {
  torchOk ??= spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  return torchOk;
}

/** Run a tools/torch_ref script; throws with its stderr on failure; returns stdout. */
export function py(script: string, args: string[], cwd?: string): string {
  const r = spawnSync(PYTHON, [join(TORCH_REF, script), ...args], {
    encoding: 'utf8',
    cwd,
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0)
    throw new Error(`${script} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `eflip-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
