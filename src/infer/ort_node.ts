// onnxruntime-node platform: CPU, and the CUDA execution provider when it is installed and a
// GPU is present (falls back to CPU otherwise).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { OrtModule, OrtPlatform } from './ort_types.js';
import { laneCount, startFrontendLanes } from './frontend_lanes.js';
import { envSwitch } from '../env_switch.js';
import { cpuInt8Dot } from '../cpu_flags.js';

/** CPU provider: keep x·σ(x) as Sigmoid + Mul instead of onnxruntime's QuickGelu fusion. The
 *  NCHWc layout pass (AVX2/AVX-512) knows Sigmoid and Mul but not QuickGelu, so the fused op forces
 *  a reorder to NCHW and back around every SiLU of the trunk; unfused, the trunk stays blocked.
 *  Measured on the T network, batch 1, 2 cores: 10–17 % faster (same outputs: same arithmetic). */
export const CPU_CONFIG = { optimization: { disable_specified_optimizers: 'QuickGeluFusion' } };

export type NodeDevice = 'auto' | 'cpu' | 'cuda';

/** `spinning` defaults to off (EFLIP_ORT_SPIN=1 turns it on; =0 also stops the streaming
 *  back-end's spinning, see OrtPlatform.spinBackend): on shared or busy CPUs spinning
 *  worker threads slow onnxruntime down by up to 2x; on an idle machine the cost is small.
 *  CPU only: whole clips' front-end runs on `threads` lanes, at most one per core (worker
 *  threads, ./frontend_lanes.ts) when that is 2 or more; EFLIP_ORT_LANES=0 keeps everything on
 *  onnxruntime's intra-op threads. */
export async function nodePlatform(
  device: NodeDevice = 'auto',
  threads?: number,
  spinning = envSwitch('EFLIP_ORT_SPIN', ['0', '1']) === '1',
): Promise<OrtPlatform> {
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  // onnxruntime's own log (ANSI-coloured lines on stderr, e.g. a missing CUDA library) only
  // repeats what its exceptions say, which eflip turns into one-line errors; a caller who asked
  // for 'verbose' or 'info' keeps it. Read when the first session is made.
  const env = (ort as unknown as { env?: { logLevel?: string } }).env;
  if (env && !['verbose', 'info'].includes(String(env.logLevel))) env.logLevel = 'fatal';
  const gpu = existsSync('/dev/nvidiactl') || !!process.env.CUDA_VISIBLE_DEVICES;
  const providers =
    device === 'cpu' ? ['cpu'] : device === 'cuda' ? ['cuda'] : gpu ? ['cuda', 'cpu'] : ['cpu'];
  const lanes = laneCount(threads);
  return {
    ort,
    providers,
    threads,
    cores: availableParallelism(),
    spinning,
    providerConfig: { cpu: CPU_CONFIG },
    int8Saturates: cpuInt8Dot() === 'none',
    pinShapes: true,
    spinBackend: envSwitch('EFLIP_ORT_SPIN', ['0', '1']) !== '0',
    ...(providers.length === 1 && providers[0] === 'cpu' && lanes >= 2
      ? {
          frontendLanes: (frontend: Uint8Array, source: string, featureDim: number) =>
            startFrontendLanes(frontend, source, { count: lanes, featureDim, spinning }),
        }
      : {}),
  };
}
