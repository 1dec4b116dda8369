// Process-wide runtime: libtorch version/config, threads, seeding, CUDA queries.
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
export { cpuNativeBf16, cpuInt8Dot } from '../cpu_flags.js';
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
