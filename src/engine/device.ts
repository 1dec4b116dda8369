// Devices: 'cpu', 'cuda' (= 'cuda:0') and 'cuda:N'. Checked before reaching libtorch so a
// missing GPU gives a clear DeviceError (naming the fix) instead of a deep libtorch failure.
import { native } from './native.js';
import { DeviceError } from './errors.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** The fix for a build without CUDA (one source for the wording: train, eval, predict, doctor). */
export const CUDA_BUILD_FIX =
  'rebuild the addon against a CUDA libtorch: LIBTORCH_USE_PYTORCH=1 npx eflip build-native (python3 with a CUDA torch), or LIBTORCH=/path/to/libtorch-cuda npx eflip build-native (in the repository: npm run build:native)';

/** Whether the linked libtorch was compiled with CUDA (its build configuration says USE_CUDA=ON). */
export function torchBuiltWithCuda(): boolean {
  return /USE_CUDA=(ON|1)\b/.test(native.config());
}

/** Validates a device string and returns its canonical form ('cpu' or 'cuda:N'). */
export function checkDevice(d: string): string {
  if (d === 'cpu') return d;
  const m = /^cuda(?::(\d+))?$/.exec(d);
  if (!m) throw new DeviceError(`unknown device '${d}' (use 'cpu', 'cuda' or 'cuda:N')`);
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (!native.cudaAvailable()) {
    if (!torchBuiltWithCuda()) {
      throw new DeviceError(
        `device '${d}' requested but CUDA is not available: the addon is built against libtorch ${native.version()} without CUDA; ${CUDA_BUILD_FIX}; or use cpu`,
      );
    }
    throw new DeviceError(
      `device '${d}' requested but CUDA is not available: libtorch ${native.version()} has CUDA but sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES); or use cpu`,
    );
  }
  const n = native.cudaDeviceCount();
  if (index >= n)
    throw new DeviceError(`device '${d}' requested but only ${n} CUDA device(s) are visible`);
  return `cuda:${index}`;
}
