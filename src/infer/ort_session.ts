// Session creation with provider fallback and float32 run helpers (Node and browser alike).
import { ModelLoadError } from './types.js';
import { checkLogProbs } from './clip_check.js';
import type { OrtPlatform, OrtSession, OrtTensor } from './ort_types.js';

export interface OpenedSession {
  session: OrtSession;
  provider: string;
}

/** Intra-op threads for a session: `maxThreads` only ever lowers the platform's count (or, when
 *  that is unset, the core count); undefined = onnxruntime's default. */
export function sessionThreads(
  p: Pick<OrtPlatform, 'threads' | 'cores'>,
  maxThreads?: number,
): number | undefined {
  const limit = p.threads ?? p.cores;
  return maxThreads !== undefined && limit !== undefined && maxThreads < limit
    ? maxThreads
    : p.threads;
}

/** Create a session, trying each provider in turn (e.g. CUDA, then CPU); see sessionThreads. */
export async function openSession(
  p: OrtPlatform,
  bytes: Uint8Array,
  source: string,
  maxThreads?: number,
  spinning = p.spinning,
): Promise<OpenedSession> {
  const threads = sessionThreads(p, maxThreads);
  const errors: string[] = [];
  for (const provider of p.providers) {
    try {
      const extra: Record<string, unknown> = { ...(p.providerConfig?.[provider] ?? {}) };
      if (spinning === false)
        extra.session = { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } };
      const session = await p.ort.InferenceSession.create(bytes, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
        ...(Object.keys(extra).length ? { extra } : {}),
        ...(p.profiling
          ? { enableProfiling: true, profileFilePrefix: p.profiling.filePrefix }
          : {}),
      });
      return { session, provider };
    } catch (e) {
      errors.push(`${provider}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  // a device the machine lacks is not the model's fault: say so (only CUDA was asked for)
  if (p.providers.length === 1 && p.providers[0] === 'cuda')
    throw new ModelLoadError(
      `device cuda: onnxruntime's CUDA execution provider cannot run here (${errors[0].slice('cuda: '.length)}); use device cpu or auto`,
    );
  throw new ModelLoadError(
    `${source}: onnxruntime could not load the model (${errors.join('; ')})`,
  );
}

export function tensorData(t: OrtTensor): Float32Array {
  if (!(t.data instanceof Float32Array))
    throw new Error('onnxruntime returned a non-float32 output');
  return t.data;
}

/** Run one float32 input → one float32 output. */
export async function runFloat(
  p: OrtPlatform,
  s: OrtSession,
  input: string,
  data: Float32Array,
  dims: number[],
  output: string,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await s.run({ [input]: new p.ort.Tensor('float32', data, dims) });
  const t = out[output];
  const y = tensorData(t);
  if (output === 'log_probs') checkLogProbs(y);
  return { data: y, dims: t.dims };
}
