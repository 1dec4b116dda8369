// onnxruntime-node platform: CPU, and the CUDA execution provider when it is installed and a
// GPU is present (falls back to CPU otherwise).
import { existsSync } from 'node:fs';
import type { OrtModule, OrtPlatform } from './ort_types.js';

export type NodeDevice = 'auto' | 'cpu' | 'cuda';

export async function nodePlatform(device: NodeDevice = 'auto', threads?: number): Promise<OrtPlatform> {
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  const gpu = existsSync('/dev/nvidiactl') || !!process.env.CUDA_VISIBLE_DEVICES;
  const providers = device === 'cpu' ? ['cpu'] : device === 'cuda' ? ['cuda'] : gpu ? ['cuda', 'cpu'] : ['cpu'];
  return { ort, providers, threads };
}
