// onnxruntime-web platform (browser, or Node for tests): WebGPU when the browser has it, else
// wasm. `wasmPaths` points at the folder serving the ort-wasm*.wasm files (default: the CDN-
// free package copy next to the bundle, as resolved by the bundler).
import type { OrtModule, OrtPlatform } from './ort_types.js';
import { MAX_LANES } from './frontend_lane.js';
import { startWebLanes } from './web_lanes.js';

export interface WebPlatformOptions {
  /** URL/folder with onnxruntime-web's .wasm files */
  wasmPaths?: string;
  /** wasm threads (1 avoids the cross-origin-isolation requirement of threads) */
  threads?: number;
  /** 'auto' tries WebGPU first when the browser has a hardware adapter (hardwareWebGpu) */
  device?: 'auto' | 'wasm' | 'webgpu';
  /** an already imported onnxruntime-web module (e.g. 'onnxruntime-web/webgpu') */
  ort?: unknown;
  /** front-end lanes for whole clips on wasm (./web_lanes.ts): Web Workers, one wasm thread
   *  each; needs `laneWorkerUrl` (the bundled web/lane_worker.js) and 2 or more (default 0: none) */
  lanes?: number;
  laneWorkerUrl?: string | URL;
}

interface WebOrt extends OrtModule {
  env: { wasm: { wasmPaths?: string; numThreads?: number } };
}

/**
 * Whether the browser offers WebGPU on a hardware adapter. A software fallback adapter
 * (SwiftShader: headless Chromium with --enable-unsafe-webgpu, machines without a GPU) runs the
 * T model several times slower than wasm (`eflip bench webapp`), so it counts as none.
 */
export async function hardwareWebGpu(): Promise<boolean> {
  const gpu =
    typeof navigator !== 'undefined'
      ? (navigator as unknown as { gpu?: { requestAdapter(): Promise<any> } }).gpu
      : undefined;
  if (!gpu) return false;
  try {
    const a = await gpu.requestAdapter();
    return !!a && !(a.info?.isFallbackAdapter ?? a.isFallbackAdapter);
  } catch {
    return false;
  }
}

export async function webPlatform(o: WebPlatformOptions = {}): Promise<OrtPlatform> {
  const device = o.device ?? 'auto';
  const hasGpu = device === 'auto' && (await hardwareWebGpu());
  const providers =
    device === 'wasm'
      ? ['wasm']
      : device === 'webgpu'
        ? ['webgpu']
        : hasGpu
          ? ['webgpu', 'wasm']
          : ['wasm'];
  // Without WebGPU, the wasm-only build: the WebGPU build's wasm (JSEP) runs the same CPU
  // kernels slower, and erratically with threads (T int8 in Chromium, 2 threads: 87–89 ms/clip
  // against 183–329; 1 thread: 139–141 against 152–199; docs/webapp.md)
  const ort = (o.ort ??
    (providers.includes('webgpu')
      ? await import('onnxruntime-web')
      : await import('onnxruntime-web/wasm'))) as WebOrt;
  if (o.wasmPaths) ort.env.wasm.wasmPaths = o.wasmPaths;
  ort.env.wasm.numThreads = o.threads ?? 1;
  const lanes = Math.min(MAX_LANES, o.lanes ?? 0);
  const laneWorkerUrl = o.laneWorkerUrl;
  return {
    ort,
    providers,
    ...(providers.length === 1 && providers[0] === 'wasm' && lanes >= 2 && laneWorkerUrl
      ? {
          frontendLanes: (frontend: Uint8Array, source: string, featureDim: number) =>
            startWebLanes(frontend, source, {
              count: lanes,
              featureDim,
              workerUrl: laneWorkerUrl,
              wasmPaths: o.wasmPaths,
            }),
        }
      : {}),
  };
}
