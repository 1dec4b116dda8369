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
