// `eflip bench ops`: per-call overhead of tiny ops and throughput of a conv3d/conv2d/matmul
// mix through eflip's engine, next to the same measured with python3-torch in the same run.
// ratio = eflip time / PyTorch time (below 1: eflip is faster).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, BENCH_OPTIONS, defineCommand } from '../args.js';
import { BENCH_PYTHON } from './random_clip.js';

export const def = defineCommand({
  name: 'bench ops',
  usage: 'bench ops [--json] [--threads N] [--iters N] [--reps N] [--quick]',
  description: [
    'Engine speed against python3-torch, measured in the same run with the same shapes and threads:',
    '  tiny ops   µs per call of add / in-place add_ on 4 elements and a 4-op chain (per-op overhead)',
    '  kernels    ms per call of conv3d (front-end shape), conv2d, depthwise conv2d and matmul',
    '  mix_train  ms per forward+backward step of a conv3d -> conv2d -> matmul stack',
    'ratio = eflip time / PyTorch time (below 1 means eflip is faster). Per case eflip and PyTorch',
    'alternate three times (same machine load); the best of all repetitions counts.',
  ].join('\n'),
  options: {
    ...BENCH_OPTIONS,
    threads: { type: 'threads', help: 'intra-op threads for both (default: libtorch default)' },
    iters: { type: 'int', default: 20000, help: 'calls per repetition for tiny ops' },
    reps: { type: 'int', default: 3, help: 'repetitions (best is reported)' },
    quick: { type: 'boolean', help: 'fewer iterations (smoke run)' },
  },
  examples: ['eflip bench ops --json', 'eflip bench ops --threads 1'],
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PY = BENCH_PYTHON;

interface Case {
  name: string;
  kind: string;
  n: number;
  unit: 'us' | 'ms';
  [k: string]: unknown;
}

function cases(iters: number, quick: boolean): Case[] {
  const k = quick ? 0.1 : 1;
  const n = (v: number): number => Math.max(2, Math.round(v * k));
  return [
    { name: 'add', kind: 'tiny_add', n: n(iters), unit: 'us' },
    { name: 'add_', kind: 'tiny_add_', n: n(iters), unit: 'us' },
    { name: 'chain4', kind: 'tiny_chain', n: n(iters / 4), unit: 'us' },
    {
      name: 'conv3d',
      kind: 'conv3d',
      n: n(10),
      unit: 'ms',
      x: [2, 1, 8, 44, 44],
      w: [8, 1, 3, 5, 5],
      stride: [1, 2, 2],
      padding: [1, 2, 2],
    },
    {
      name: 'conv2d',
      kind: 'conv2d',
      n: n(20),
      unit: 'ms',
      x: [16, 32, 22, 22],
      w: [64, 32, 3, 3],
      stride: [1, 1],
      padding: [1, 1],
    },
    {
      name: 'conv2d_depthwise',
      kind: 'conv2d',
      n: n(20),
      unit: 'ms',
      x: [16, 64, 22, 22],
      w: [64, 1, 3, 3],
      stride: [1, 1],
      padding: [1, 1],
      groups: 64,
    },
    { name: 'matmul', kind: 'matmul', n: n(50), unit: 'ms', a: [256, 384], b: [384, 384] },
    {
      name: 'mix_train',
      kind: 'mix_train',
      n: n(5),
      unit: 'ms',
      x3: [2, 1, 8, 44, 44],
      w3: [8, 1, 3, 5, 5],
      w2: [16, 8, 3, 3],
      wl: [16, 64],
    },
  ];
}

type Engine = typeof import('../../engine/index.js');

function build(E: Engine, c: Case): () => void {
  const F = E.F;
  E.manualSeed(0);
  const r = (s: unknown): import('../../engine/index.js').Tensor => E.keep(E.randn(s as number[]));
  switch (c.kind) {
    case 'tiny_add': {
      const a = r([4]),
        b = r([4]);
      return () => a.add(b);
    }
    case 'tiny_add_': {
      const a = r([4]),
        b = r([4]);
      return () => a.add_(b, 1e-9);
    }
    case 'tiny_chain': {
      const a = r([4]);
      return () => a.mul(2).add(1).relu().sum();
    }
    case 'conv3d': {
      const x = r(c.x),
        w = r(c.w);
      return () =>
        F.conv3d(x, w, null, { stride: c.stride as number[], padding: c.padding as number[] });
    }
    case 'conv2d': {
      const x = r(c.x),
        w = r(c.w);
      return () =>
        F.conv2d(x, w, null, {
          stride: c.stride as number[],
          padding: c.padding as number[],
          groups: (c.groups as number) ?? 1,
        });
    }
    case 'matmul': {
      const a = r(c.a),
        b = r(c.b);
      return () => a.matmul(b);
    }
    case 'mix_train': {
      const x3 = r(c.x3),
        w3 = r(c.w3).requiresGrad_(),
        w2 = r(c.w2).requiresGrad_(),
        wl = r(c.wl).requiresGrad_();
      return () => {
        let h = F.conv3d(x3, w3, null, { stride: [1, 2, 2], padding: [1, 2, 2] }).relu();
        const [n, ch, t, hh, ww] = h.shape;
        h = h.transpose(1, 2).reshape([n * t, ch, hh, ww]);
        h = F.conv2d(h, w2, null, { stride: 2, padding: 1 })
          .relu()
          .mean({ dim: [2, 3] });
        h.matmul(wl).square().mean().backward();
        w3.zeroGrad();
        w2.zeroGrad();
        wl.zeroGrad();
      };
    }
  }
  throw new Error(`unknown case ${c.kind}`);
}

/**
 * Seconds per call, best of reps. Results are freed by tidy() every `chunk` calls: 100 for
 * tiny ops, every call for kernels (as PyTorch frees them, so the allocator reuses memory).
 */
function time(E: Engine, fn: () => void, n: number, reps: number, chunk: number): number {
  E.tidy(fn);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n;) {
      const m = Math.min(chunk, n - i);
      E.tidy(() => {
        for (let j = 0; j < m; j++) fn();
      });
      i += m;
    }
    best = Math.min(best, (performance.now() - t0) / 1000 / n);
  }
  return best;
}

/** python3-torch measuring the same cases, driven line by line (see ops_bench.py). */
class TorchSide {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  constructor(threads: number, reps: number) {
    // glibc would otherwise return every multi-MB result of the Python process to the OS and
    // page-fault it back on the next call, while Node's heap has already raised its dynamic
    // mmap/trim thresholds: pin them so both sides measure kernels, not the allocator.
    const env = {
      ...process.env,
      MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? String(64 << 20),
      MALLOC_TRIM_THRESHOLD_: process.env.MALLOC_TRIM_THRESHOLD_ ?? String(128 << 20),
    };
    this.proc = spawn(PY, [path.join(ROOT, 'tools/torch_ref/ops_bench.py')], {
      stdio: 'pipe',
      env,
    });
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
    this.proc.stdin.write(JSON.stringify({ threads, reps }) + '\n');
  }
  stderr = '';
  private async next(): Promise<any> {
    const r = await this.lines.next();
    if (r.done)
      throw new Error(
        `python3-torch benchmark (${PY}) stopped: ${this.stderr.trim().split('\n').slice(-3).join(' ')}`,
      );
    return JSON.parse(r.value);
  }
  version(): Promise<{ version: string }> {
    return this.next();
  }
  async measure(c: Case): Promise<number> {
    this.proc.stdin.write(JSON.stringify(c) + '\n');
    return (await this.next()).seconds as number;
  }
  close(): void {
    this.proc.stdin.end();
  }
}

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const E: Engine = await import('../../engine/index.js');
  if (p.opts.threads) E.setNumThreads(p.opts.threads);
  const threads = E.getNumThreads();
  const reps = p.opts.reps;
  const list = cases(p.opts.iters, p.opts.quick);
  const log = (s: string): void => {
    if (!p.opts.json) process.stderr.write(s);
  };
  // Per case: eflip and PyTorch alternate three times; best of each (same machine load).
  const torch = new TorchSide(threads, reps);
  const mine: Record<string, number> = {};
  const theirs: Record<string, number> = {};
  let pytorchVersion: string;
  try {
    pytorchVersion = (await torch.version()).version;
    for (const c of list) {
      log(`${c.name} `);
      const fn = E.tidy(() => build(E, c));
      for (let round = 0; round < 3; round++) {
        mine[c.name] = Math.min(
          mine[c.name] ?? Infinity,
          time(E, fn, c.n, reps, c.unit === 'us' ? 100 : 1),
        );
        theirs[c.name] = Math.min(theirs[c.name] ?? Infinity, await torch.measure(c));
      }
    }
    log('\n');
  } finally {
    torch.close();
  }
  const scale = (c: Case, s: number): number => (c.unit === 'us' ? s * 1e6 : s * 1e3);
  const results = list.map((c) => ({
    name: c.name,
    unit: c.unit,
    eflip: +scale(c, mine[c.name]).toFixed(3),
    pytorch: +scale(c, theirs[c.name]).toFixed(3),
    ratio: +(mine[c.name] / theirs[c.name]).toFixed(3),
  }));
  const add = results.find((r) => r.name === 'add')!;
  const out = {
    libtorch: E.torchVersion(),
    pytorch: pytorchVersion,
    threads,
    perOpOverheadUs: { eflip: add.eflip, pytorch: add.pytorch, ratio: add.ratio },
    results,
    note: 'ratio = eflip time / PyTorch time; below 1 means eflip is faster',
  };
  if (p.opts.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(`libtorch ${out.libtorch} vs python3-torch ${out.pytorch}, ${threads} thread(s)`);
    console.log(`${'op'.padEnd(18)} ${'eflip'.padStart(10)} ${'pytorch'.padStart(10)}  ratio`);
    for (const r of results)
      console.log(
        `${r.name.padEnd(18)} ${(r.eflip + ' ' + r.unit).padStart(10)} ${(r.pytorch + ' ' + r.unit).padStart(10)}  ${r.ratio.toFixed(2)}`,
      );
    console.log(out.note);
  }
  return 0;
}
