// The one bound on every thread, worker and job count eflip is given (the CLI's --threads and
// --jobs, train.threads, data.workers, the loader's workers): at most THREADS_PER_CORE per
// available core. More only adds memory and contention — 100000 threads took 4 GB and made
// no progress — so a larger count is refused with one line, never started.
import { availableParallelism } from 'node:os';

export const THREADS_PER_CORE = 4;

/** The largest count accepted on this machine. */
export function maxThreads(): number {
  return THREADS_PER_CORE * Math.max(1, availableParallelism());
}

/** null when `n` is an integer in [min, maxThreads()], else what is wrong ("--threads 100000: ..."). */
export function threadCountProblem(what: string, n: number, min = 1): string | null {
  if (!Number.isSafeInteger(n) || n < min) return `${what} must be an integer >= ${min}, got ${n}`;
  const max = maxThreads();
  if (n > max)
    return `${what} is ${n}: at most ${max} on this machine (${THREADS_PER_CORE} per core × ${max / THREADS_PER_CORE} cores)`;
  return null;
}

/**
 * The thread-count variables the native libraries read on their own: libgomp (libtorch's
 * OpenMP) reads OMP_NUM_THREADS when the addon is loaded and starts that many threads at the
 * first parallel op; libtorch's default thread count and MKL (pip torch) read MKL_NUM_THREADS.
 * onnxruntime reads neither: eflip sets its session threads itself (src/infer/ort_session.ts).
 */
export const THREAD_ENV_VARS = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS'] as const;

/**
 * Bound THREAD_ENV_VARS in `env` by the same maximum as every other count: a value above
 * maxThreads() is lowered to it (an environment variable is ambient, so it is clamped rather than
 * refused), with one warning line per variable. OpenMP's list form ("8,2": per nesting level)
 * is bounded level by level; a value that is not a count is left to the library, which ignores
 * it. Called before the libtorch addon loads (src/engine/native.ts) and by the launcher for the
 * processes it starts. Returns the warnings.
 */
export function boundThreadEnv(
  env: Record<string, string | undefined> = process.env,
  warn: (line: string) => void = (l) => console.error(l),
): string[] {
  const max = maxThreads();
  const lines: string[] = [];
  for (const name of THREAD_ENV_VARS) {
    const raw = env[name];
    if (raw === undefined || !/^\s*\d+(\s*,\s*\d+)*\s*$/.test(raw)) continue;
    const levels = raw.split(',').map((s) => Number(s.trim()));
    if (!levels.some((n) => n > max)) continue;
    const bounded = levels.map((n) => Math.min(n, max)).join(',');
    env[name] = bounded;
    const line = `eflip: warning: ${name}=${raw.trim().slice(0, 40)} is more than ${max} threads (at most ${THREADS_PER_CORE} per core × ${max / THREADS_PER_CORE} cores on this machine); using ${name}=${bounded}`;
    lines.push(line);
    warn(line);
  }
  return lines;
}
