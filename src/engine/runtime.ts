// Process-wide runtime: libtorch version/config, threads, seeding, CUDA queries.
import { readFileSync } from 'node:fs';
import { native, ADDON_PATH } from './native.js';
import { ArgumentError, DeviceError, EngineError } from './errors.js';
import { threadCountProblem } from '../threads.js';
import { torchBuiltWithCuda } from './device.js';
import { wrap, type Tensor } from './tensor.js';

/** The linked libtorch version, e.g. "1.13.0". */
export function torchVersion(): string {
  return native.version();
}
/** libtorch's build configuration text (at::show_config()). */
export function torchConfig(): string {
  return native.config();
}
/** The CPU kernel capability libtorch selected (e.g. "AVX2", "AVX512", "DEFAULT"). */
export function cpuCapability(): string {
  return /CPU capability usage:\s*(\S+)/.exec(native.config())?.[1] ?? 'unknown';
}
let flags: Set<string> | undefined;
/** The CPU's feature flags from /proc/cpuinfo (empty where there is none: not Linux). Read once. */
function cpuFlags(): Set<string> {
  if (!flags) {
    flags = new Set<string>();
    try {
      const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
      flags = new Set(line.trim().split(/\s+/));
    } catch {
      /* not Linux: no flags known */
    }
  }
  return flags;
}
/**
 * The CPU instruction set that computes bfloat16 natively ('amx_bf16' or 'avx512_bf16', from
 * the flags in /proc/cpuinfo), or null: no such flag, or no /proc/cpuinfo (not Linux). Without
 * one, bf16 autocast converts in software and is slower than float32.
 */
export function cpuNativeBf16(): string | null {
  return ['amx_bf16', 'avx512_bf16'].find((f) => cpuFlags().has(f)) ?? null;
}
/**
 * For int8 inference on x86: the VNNI instructions ('amx_int8', 'avx512_vnni', 'avx_vnni') that
 * add u8×s8 products in 32 bits; 'none' on an x86 CPU without them, where onnxruntime adds pairs
 * of products in a saturating int16 (why int8 exports default to 7-bit weights:
 * src/io/onnx/quantize.ts); null where unknown (no /proc/cpuinfo flags, or not x86).
 */
export function cpuInt8Dot(): string | null {
  const f = cpuFlags();
  if (!f.has('sse2')) return null;
  return ['amx_int8', 'avx512_vnni', 'avx_vnni'].find((x) => f.has(x)) ?? 'none';
}
export function addonPath(): string {
  return ADDON_PATH;
}
export function setNumThreads(n: number): void {
  // the one thread bound (src/threads.ts): 1e9 reached libgomp, which died allocating 224 GB
  const problem = threadCountProblem('setNumThreads', n);
  if (problem) throw new ArgumentError(problem);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
export function getNumInteropThreads(): number {
  return native.getNumInteropThreads();
}
/** Seeds libtorch's default CPU (and CUDA) generators: rand/randn/dropout/... repeat. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

export const cuda = {
  isAvailable(): boolean {
    return native.cudaAvailable();
  },
  /** Whether the linked libtorch was built with CUDA (true on a CUDA build even with no GPU visible). */
  built(): boolean {
    return torchBuiltWithCuda();
  },
  /**
   * Starts a host→device copy of a CPU tensor (pinned for a truly asynchronous copy) on the
   * device's side stream and returns the device tensor at once; `ready()` makes the device's
   * current stream wait for the copy (a GPU-side wait; the host never blocks). Call ready()
   * exactly once, before the first use of the tensor. `device` is canonical ('cuda:N').
   */
  copyAsync(t: Tensor, device: string): { tensor: Tensor; ready: () => void } {
    if (!native.copyAsync || !native.waitCopy)
      throw new EngineError(
        'copyAsync: the addon predates native/streams.cc; rebuild it (npx eflip build-native; in the repository: npm run build:native)',
      );
    const [hd, id] = native.copyAsync(t.handle, device);
    const waitCopy = native.waitCopy;
    let done = false;
    return {
      tensor: wrap(hd),
      ready: () => {
        if (done) return;
        done = true;
        waitCopy(id);
      },
    };
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  /** Device memory in bytes as the CUDA runtime reports it. */
  memInfo(index = 0): { free: number; total: number; used: number } {
    if (!native.cudaAvailable()) throw new DeviceError('CUDA is not available');
    const [free, total] = native.cudaMemInfo(index);
    return { free, total, used: total - free };
  },
};
