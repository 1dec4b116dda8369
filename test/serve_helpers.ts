// Shared by test/serve.test.ts and test/webapp.test.ts: start the real `eflip serve` on a free
// port of 127.0.0.1 and talk HTTP to it with node:http (raw requests, early answers, resets).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import * as path from 'node:path';
import { ROOT } from './onnx_helpers.js';

export const BIN = path.join(ROOT, 'bin/eflip.js');

export interface Served {
  child: ChildProcess;
  port: number;
  base: string;
  log: () => string;
  /** resident set of the server process, MiB */
  rssMiB: () => number;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export function eflipSync(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The bundled demo model exported to DIR/demo.onnx (with the streaming pair), and `eflip
 *  predict --top 5 --json`'s answer for the clips with it — what the server and the page must match. */
export function demoOnnxAndCliAnswers(dir: string, clips: string[]) {
  const onnx = path.join(dir, 'demo.onnx');
  const ex = eflipSync([
    'export',
    '--checkpoint',
    path.join(ROOT, 'assets/demo/model.safetensors'),
    '--out',
    onnx,
    '--features',
  ]);
  assert.equal(ex.code, 0, ex.stderr);
  const cli = eflipSync(['predict', ...clips, '--checkpoint', onnx, '--top', '5', '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  return {
    onnx,
    expected: JSON.parse(cli.stdout).results as {
      frames: number;
      top: { label: string; probability: number; logProb: number }[];
    }[],
  };
}

type Top = { label: string; probability: number; logProb: number }[];

/** The server answers like `eflip predict --json`: the same words in the same order, numbers
 *  equal to rounding. Not bit-equal by design: the CLI runs its clips in batches (ORT_BATCH), the
 *  server one clip per run, and onnxruntime's kernels may differ in the last printed digit between
 *  batch sizes (1.30 did: ABUSE_00001 rank 5, logProb -4.58194 alone, -4.581941 in a batch of 2). */
export function assertSameTop(got: Top, want: Top, message = ''): void {
  assert.deepEqual(
    got.map((e) => e.label),
    want.map((e) => e.label),
    `words ${message}`,
  );
  got.forEach((e, k) => {
    for (const key of ['probability', 'logProb'] as const)
      assert.ok(
        Math.abs(e[key] - want[k][key]) <= 2e-6,
        `${message} rank ${k + 1} ${key}: ${e[key]} vs ${want[k][key]}`,
      );
  });
}

export async function startServe(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`eflip serve did not start in 60 s:\n${out}`)),
      60_000,
    );
    child.on('exit', (c) => reject(new Error(`eflip serve exited (${c}):\n${out}`)));
    child.stdout!.on('data', () => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return {
    child,
    port,
    base: `http://127.0.0.1:${port}`,
    log: () => out,
    rssMiB: () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
        child.kill(signal);
      }),
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** a socket error instead of (or after) an answer */
  error?: string;
}

/** One HTTP request; `body` may be bigger than the server accepts (an early answer is still read). */
export function req(
  port: number,
  method: string,
  p: string,
  body?: Uint8Array | null,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Reply) => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const r = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path: p,
        headers: { ...(body ? { 'Content-Length': String(body.byteLength) } : {}), ...headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          finish({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (e) =>
          finish({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks),
            error: e.message,
          }),
        );
      },
    );
    r.on('error', (e) =>
      finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: e.message }),
    );
    if (body) r.write(body);
    r.end();
  });
}

export const json = (r: Reply) => JSON.parse(r.body.toString('utf8'));
