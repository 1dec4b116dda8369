// Shared by the hostile-input suites (test/hostile_*.test.ts): run the real CLI on a crafted
// input and check what issue #16 asks of every case — an exit code, a one-line message naming
// the problem, bounded time and memory, and no file of the user's changed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir as scopedTempDir } from './onnx_helpers.js';

export const EFLIP_BIN = new URL('../../bin/eflip.js', import.meta.url).pathname;

/** Preloaded into the child: writes its peak RSS (KiB) to EFLIP_TEST_RSS_OUT on every normal exit. */
const RSS_PROBE = `import { writeFileSync } from 'node:fs';
process.on('exit', () => { try { writeFileSync(process.env.EFLIP_TEST_RSS_OUT, String(process.resourceUsage().maxRSS)); } catch {} });
`;

let probeDir: string | null = null;
function probePath(): string {
  if (!probeDir) {
    probeDir = mkdtempSync(join(tmpdir(), 'eflip-rss-'));
    writeFileSync(join(probeDir, 'probe.mjs'), RSS_PROBE);
    process.on('exit', () => rmSync(probeDir!, { recursive: true, force: true }));
  }
  return join(probeDir, 'probe.mjs');
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** peak resident set of the child in MiB (NaN when it died without a normal exit) */
  peakMiB: number;
  timedOut: boolean;
}

/** Peak RSS over every hostile case of this process's suites, reported by the suites' last test. */
export const worst = { peakMiB: 0, label: '' };

/** Run `eflip ...args`; kills the child (SIGKILL) after timeoutMs. */
export function runEflip(
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string>; input?: string } = {},
): Promise<CliRun> {
  const rssOut = join(
    probeDir ?? (probePath(), probeDir!),
    `rss-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', `file://${probePath()}`, EFLIP_BIN, ...args],
      {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env, EFLIP_TEST_RSS_OUT: rssOut },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '',
      stderr = '',
      timedOut = false;
    child.stdout.on('data', (d) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.on('data', (d) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let peakMiB = NaN;
      if (existsSync(rssOut)) {
        peakMiB = Number(readFileSync(rssOut, 'utf8')) / 1024;
        rmSync(rssOut, { force: true });
      }
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, peakMiB, timedOut });
    });
  });
}

/**
 * The contract of a refused hostile input: exits with `code` (default: any non-zero, never a
 * signal or a V8 fatal), within `maxMs`, under `maxMiB` peak RSS, printing one line on stderr
 * (after stripping progress/warning lines) that matches `message`, and no stack trace.
 */
export function assertRefused(
  r: CliRun,
  message: RegExp,
  opts: { code?: number; maxMs?: number; maxMiB?: number; label?: string } = {},
): void {
  const ctx = `${opts.label ?? ''}\nexit ${r.code} signal ${r.signal} in ${r.ms.toFixed(0)} ms, ${r.peakMiB.toFixed(0)} MiB\nstderr: ${r.stderr.slice(0, 2000)}`;
  assert.ok(!r.timedOut, `timed out: ${ctx}`);
  assert.equal(r.signal, null, `killed by a signal: ${ctx}`);
  if (opts.code !== undefined) assert.equal(r.code, opts.code, ctx);
  else assert.ok(r.code !== 0 && r.code !== null, `expected a failure exit: ${ctx}`);
  assert.ok(r.code !== 134 && r.code !== 133, `V8 fatal error: ${ctx}`);
  assert.doesNotMatch(
    r.stderr,
    /\n\s+at .+:\d+:\d+\)?\n|FATAL ERROR|heap out of memory|Segmentation fault/,
    `stack trace or fatal: ${ctx}`,
  );
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(warning|\[)/i.test(l));
  assert.ok(
    lines.length >= 1 && lines.length <= 2,
    `expected a one-line error, got ${lines.length} lines: ${ctx}`,
  );
  assert.match(lines.join(' '), message, ctx);
  assertBounded(r, opts);
}

/** Time and memory bounds (also for hostile inputs that are accepted). */
export function assertBounded(
  r: CliRun,
  opts: { maxMs?: number; maxMiB?: number; label?: string } = {},
): void {
  const maxMs = opts.maxMs ?? 30_000;
  const maxMiB = opts.maxMiB ?? 1024;
  assert.ok(r.ms <= maxMs, `${opts.label ?? ''}: took ${r.ms.toFixed(0)} ms > ${maxMs}`);
  if (Number.isFinite(r.peakMiB)) {
    assert.ok(
      r.peakMiB <= maxMiB,
      `${opts.label ?? ''}: peak RSS ${r.peakMiB.toFixed(0)} MiB > ${maxMiB}`,
    );
    if (r.peakMiB > worst.peakMiB) {
      worst.peakMiB = r.peakMiB;
      worst.label = opts.label ?? '';
    }
  }
}

/** sha1 of every file under dir (relative path → hash), for "nothing of the user's changed". */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name),
        r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else if (e.isFile())
        out.set(
          r,
          createHash('sha1').update(readFileSync(p)).digest('hex') + ':' + statSync(p).size,
        );
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out;
}

/** Asserts the tree under dir holds exactly `before` (no file changed, removed or added), except `allowNew` paths. */
export function assertUnchanged(
  dir: string,
  before: Map<string, string>,
  opts: { allowNew?: (rel: string) => boolean; label?: string } = {},
): void {
  const after = snapshot(dir);
  for (const [k, v] of before)
    assert.equal(
      after.get(k),
      v,
      `${opts.label ?? ''}: ${k} was ${after.has(k) ? 'changed' : 'removed'}`,
    );
  for (const k of after.keys())
    if (!before.has(k))
      assert.ok(opts.allowNew?.(k), `${opts.label ?? ''}: unexpected new file ${k}`);
}

/** A fresh temp dir removed when the test process exits. */
export function tempDir(prefix = 'eflip-hostile-'): string {
  const { dir, cleanup } = scopedTempDir(prefix);
  process.on('exit', cleanup);
  return dir;
}
