// `eflip doctor [--json]`: where libtorch comes from, its version and CPU capability, threads,
// CUDA devices, and a self-check (conv3d forward + backward, gradient vs finite differences).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, defineCommand } from '../args.js';
import type { Tensor } from '../../engine/index.js';

export const def = defineCommand({
  name: 'doctor',
  usage: 'doctor [--json]',
  description: [
    'Checks the libtorch installation eflip uses: location (LIBTORCH, LIBTORCH_USE_PYTORCH=1 or the',
    'system copy), version, CPU kernel capability, threads, CUDA devices and memory, and runs a',
    'self-check: a conv3d forward/backward whose gradient is compared with finite differences.',
    'Exit status 0 when everything works, 1 otherwise.',
  ].join('\n'),
  options: { json: { type: 'boolean', help: 'print one JSON object (ok: true/false)' } },
  examples: ['eflip doctor', 'eflip doctor --json'],
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

interface Report {
  ok: boolean;
  node: string;
  libtorch: {
    found: boolean;
    source?: string;
    version?: string;
    libdir?: string;
    include?: string[];
    cuda?: boolean;
    error?: string;
  };
  addon: { loaded: boolean; path?: string; linkedVersion?: string; error?: string };
  cpu?: {
    capability: string;
    /** the native bfloat16 instructions (amx_bf16, avx512_bf16) or null: train.precision=auto picks bf16 only with one */
    nativeBf16: string | null;
    /** x86 VNNI for int8 (amx_int8, avx512_vnni, avx_vnni), 'none' (x86 without: 8-bit int8 weights saturate), null: unknown */
    int8Dot: string | null;
    threads: number;
    interopThreads: number;
    blas: string;
    linear: 'aten::linear' | '1x1 conv';
  };
  /** built: the linked libtorch has CUDA; available: a GPU is visible; check: a conv3d on cuda:0 vs the CPU */
  cuda?: {
    built: boolean;
    available: boolean;
    devices: { index: number; freeBytes?: number; totalBytes?: number }[];
    fix?: string;
    check?: { ok: boolean; maxAbsDiff?: number; error?: string };
  };
  /** c10d process groups this build of the addon has (data-parallel training) */
  distributed?: { gloo: boolean; nccl: boolean };
  selfCheck?: {
    ok: boolean;
    ms: number;
    outputShape?: number[];
    maxGradError?: number;
    error?: string;
  };
  problems: string[];
}

function locateLibtorch(): Report['libtorch'] {
  try {
    const require = createRequire(import.meta.url);
    const { locate } = require(path.join(ROOT, 'scripts', 'find-libtorch.cjs')) as {
      locate: () => Record<string, unknown>;
    };
    const f = locate();
    return {
      found: true,
      source: f.source as string,
      version: f.version as string,
      libdir: f.libdir as string,
      include: f.include as string[],
      cuda: f.cuda as boolean,
    };
  } catch (e) {
    return { found: false, error: (e as Error).message };
  }
}

async function selfCheck(
  E: typeof import('../../engine/index.js'),
): Promise<NonNullable<Report['selfCheck']>> {
  const t0 = performance.now();
  try {
    const r = E.tidy(() => {
      E.manualSeed(0);
      const x = E.randn([1, 1, 3, 8, 8], { dtype: 'float64' });
      const w = E.randn([2, 1, 3, 3, 3], { dtype: 'float64' }).requiresGrad_();
      const f = (): Tensor =>
        E.F.conv3d(x, w, null, { stride: [1, 2, 2], padding: 1 })
          .square()
          .sum();
      const y = E.F.conv3d(x, w, null, { stride: [1, 2, 2], padding: 1 });
      f().backward();
      const g = w.grad!.toTypedArray() as Float64Array;
      const data = w.dataView() as Float64Array;
      let worst = 0;
      const eps = 1e-6;
      E.noGrad(() => {
        for (const j of [0, 7, 13, 26, 40, 53]) {
          const keep = data[j];
          data[j] = keep + eps;
          const up = E.tidy(() => f().item());
          data[j] = keep - eps;
          const down = E.tidy(() => f().item());
          data[j] = keep;
          const num = (up - down) / (2 * eps);
          worst = Math.max(worst, Math.abs(num - g[j]) / (1 + Math.abs(num)));
        }
      });
      return { shape: y.shape, worst };
    });
    const ok = r.worst < 1e-6 && r.shape.join(',') === '1,2,3,4,4';
    return { ok, ms: performance.now() - t0, outputShape: r.shape, maxGradError: r.worst };
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, error: (e as Error).message };
  }
}

/** The same conv3d + batch of ops on cuda:0 and on the CPU (float32; TF32 off by default in libtorch convs is not assumed: 1e-3). */
function cudaCheck(
  E: typeof import('../../engine/index.js'),
): NonNullable<NonNullable<Report['cuda']>['check']> {
  try {
    return E.tidy(() => {
      E.manualSeed(0);
      const x = E.randn([2, 1, 5, 16, 16]);
      const w = E.randn([4, 1, 3, 5, 5]);
      const f = (a: Tensor, b: Tensor) =>
        E.F.conv3d(a, b, null, { stride: [1, 2, 2], padding: [1, 2, 2] })
          .relu()
          .mean([2, 3, 4]);
      const cpu = f(x, w).toTypedArray() as Float32Array;
      const gpu = f(x.to('cuda:0'), w.to('cuda:0')).toTypedArray() as Float32Array;
      let d = 0;
      for (let i = 0; i < cpu.length; i++) d = Math.max(d, Math.abs(cpu[i] - gpu[i]));
      return { ok: d < 1e-3, maxAbsDiff: d };
    });
  } catch (e) {
    return { ok: false, error: (e as Error).message.split('\n')[0] };
  }
}

export async function diagnose(): Promise<Report> {
  const rep: Report = {
    ok: false,
    node: process.version,
    libtorch: locateLibtorch(),
    addon: { loaded: false },
    problems: [],
  };
  if (!rep.libtorch.found) rep.problems.push(rep.libtorch.error ?? 'libtorch not found');
  let E: typeof import('../../engine/index.js');
  try {
    E = await import('../../engine/index.js');
  } catch (e) {
    rep.addon = { loaded: false, error: (e as Error).message };
    rep.problems.push((e as Error).message);
    return rep;
  }
  rep.addon = { loaded: true, path: E.addonPath(), linkedVersion: E.torchVersion() };
  if (
    rep.libtorch.version &&
    !rep.libtorch.version.startsWith(E.torchVersion().split('+')[0].split('a')[0])
  ) {
    rep.problems.push(
      `addon was built against libtorch ${E.torchVersion()} but the located libtorch is ${rep.libtorch.version}; rebuild with npm run build`,
    );
  }
  const blas = /BLAS_INFO=([^,\s]+)/.exec(E.torchConfig())?.[1] ?? 'unknown';
  rep.cpu = {
    capability: E.cpuCapability(),
    nativeBf16: E.cpuNativeBf16(),
    int8Dot: E.cpuInt8Dot(),
    threads: E.getNumThreads(),
    interopThreads: E.getNumInteropThreads(),
    blas,
    linear: E.F.linearRunsAsConv() ? '1x1 conv' : 'aten::linear',
  };
  const devices: { index: number; freeBytes?: number; totalBytes?: number }[] = [];
  if (E.cuda.isAvailable()) {
    for (let i = 0; i < E.cuda.deviceCount(); i++) {
      try {
        const m = E.cuda.memInfo(i);
        devices.push({ index: i, freeBytes: m.free, totalBytes: m.total });
      } catch {
        devices.push({ index: i });
      }
    }
  }
  rep.cuda = { built: E.cuda.built(), available: E.cuda.isAvailable(), devices };
  if (!rep.cuda.built) rep.cuda.fix = E.CUDA_BUILD_FIX;
  if (rep.cuda.available) {
    rep.cuda.check = cudaCheck(E);
    if (!rep.cuda.check.ok)
      rep.problems.push(
        `CUDA check failed: ${rep.cuda.check.error ?? `cuda:0 differs from the CPU by ${rep.cuda.check.maxAbsDiff}`}`,
      );
  }
  rep.distributed = {
    gloo: E.ProcessGroup.available('gloo'),
    nccl: E.ProcessGroup.available('nccl'),
  };
  rep.selfCheck = await selfCheck(E);
  if (!rep.selfCheck.ok)
    rep.problems.push(
      `self-check failed: ${rep.selfCheck.error ?? `gradient error ${rep.selfCheck.maxGradError}`}`,
    );
  rep.ok = rep.problems.length === 0;
  return rep;
}

const gib = (b?: number): string => (b === undefined ? '?' : `${(b / 2 ** 30).toFixed(1)} GiB`);

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const rep = await diagnose();
  if (p.opts.json) {
    console.log(JSON.stringify(rep, null, 2));
    return rep.ok ? 0 : 1;
  }
  const lines = [
    `node        ${rep.node}`,
    rep.libtorch.found
      ? `libtorch    ${rep.libtorch.version} from ${rep.libtorch.source} (${rep.libtorch.libdir})${rep.libtorch.cuda ? ', CUDA build' : ', CPU build'}`
      : `libtorch    NOT FOUND`,
    rep.addon.loaded
      ? `addon       ${rep.addon.path} (linked libtorch ${rep.addon.linkedVersion})`
      : `addon       NOT LOADED`,
  ];
  if (rep.cpu)
    lines.push(
      `cpu         capability ${rep.cpu.capability}, native bf16 ${rep.cpu.nativeBf16 ?? 'no'} (train.precision=auto: ${rep.cpu.nativeBf16 ? 'bf16' : 'fp32'}), ${rep.cpu.threads} intra-op thread(s), ${rep.cpu.interopThreads} inter-op`,
    );
  if (rep.cpu?.int8Dot)
    lines.push(
      rep.cpu.int8Dot === 'none'
        ? 'int8        no VNNI: onnxruntime adds u8×s8 product pairs in a saturating int16 here, so int8 models need 7-bit weights (what eflip export --quantize int8 writes unless --weight-bits 8)'
        : `int8        VNNI (${rep.cpu.int8Dot}): u8×s8 products add in 32 bits`,
    );
  if (rep.cpu)
    lines.push(
      `blas        ${rep.cpu.blas}${rep.cpu.linear === '1x1 conv' ? ' (float32 linears run as 1×1 oneDNN convs; docs/engine.md)' : ''}`,
    );
  if (rep.cuda) {
    const c = rep.cuda;
    lines.push(
      `cuda        ${
        c.available
          ? `${c.devices.length} device(s), libtorch built with CUDA${c.check ? `; check ${c.check.ok ? 'ok' : 'FAILED'} (cuda:0 vs CPU max |diff| ${c.check.maxAbsDiff?.toExponential(1) ?? c.check.error})` : ''}`
          : c.built
            ? 'not available: libtorch is built with CUDA but sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)'
            : `not in this build (CPU-only libtorch); for train.device=cuda ${c.fix}`
      }`,
    );
    for (const d of rep.cuda.devices)
      lines.push(`  cuda:${d.index}    ${gib(d.freeBytes)} free of ${gib(d.totalBytes)}`);
  }
  if (rep.distributed) {
    const pgs = (['gloo', 'nccl'] as const).filter((b) => rep.distributed![b]);
    lines.push(
      `c10d        process groups: ${pgs.length ? pgs.join(', ') : 'none (install libgloo-dev and rebuild; docs/engine.md)'}`,
    );
  }
  if (rep.selfCheck) {
    const s = rep.selfCheck;
    lines.push(
      `self-check  ${s.ok ? 'ok' : 'FAILED'}: conv3d forward/backward ${s.outputShape ? `[${s.outputShape.join(', ')}]` : ''}, max gradient error ${s.maxGradError?.toExponential(1) ?? '-'} (${s.ms.toFixed(0)} ms)`,
    );
  }
  for (const pr of rep.problems) lines.push(`problem     ${pr}`);
  lines.push(rep.ok ? 'ok' : 'NOT OK');
  console.log(lines.join('\n'));
  return rep.ok ? 0 : 1;
}
