// Devices: 'cpu', 'cuda' (= 'cuda:0') and 'cuda:N'. Checked before reaching libtorch so a
// missing GPU gives a clear DeviceError instead of a deep libtorch failure.
import { native } from './native.js';
import { DeviceError } from './errors.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** Validates a device string and returns its canonical form ('cpu' or 'cuda:N'). */
export function checkDevice(d: string): string {
  if (d === 'cpu') return d;
  const m = /^cuda(?::(\d+))?$/.exec(d);
  if (!m) throw new DeviceError(`unknown device '${d}' (use 'cpu', 'cuda' or 'cuda:N')`);
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (!native.cudaAvailable()) {
    throw new DeviceError(`device '${d}' requested but CUDA is not available (libtorch ${native.version()} without CUDA support or no GPU visible); use 'cpu'`);
  }
  const n = native.cudaDeviceCount();
  if (index >= n) throw new DeviceError(`device '${d}' requested but only ${n} CUDA device(s) are visible`);
  return `cuda:${index}`;
}
