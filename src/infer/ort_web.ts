// onnxruntime-web platform (browser, or Node for tests): WebGPU when the browser has it, else
// wasm. `wasmPaths` points at the folder serving the ort-wasm*.wasm files (default: the CDN-
// free package copy next to the bundle, as resolved by the bundler).
import type { OrtModule, OrtPlatform } from './ort_types.js';

export interface WebPlatformOptions {
  /** URL/folder with onnxruntime-web's .wasm files */
  wasmPaths?: string;
  /** wasm threads (1 avoids the cross-origin-isolation requirement of threads) */
  threads?: number;
  /** 'auto' tries WebGPU first when navigator.gpu exists */
  device?: 'auto' | 'wasm' | 'webgpu';
  /** an already imported onnxruntime-web module (e.g. 'onnxruntime-web/webgpu') */
  ort?: unknown;
}

interface WebOrt extends OrtModule {
  env: { wasm: { wasmPaths?: string; numThreads?: number } };
}

export async function webPlatform(o: WebPlatformOptions = {}): Promise<OrtPlatform> {
  const hasGpu =
    typeof navigator !== 'undefined' && !!(navigator as unknown as { gpu?: unknown }).gpu;
  const device = o.device ?? 'auto';
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
  return { ort, providers };
}
