// `eflip train --nproc-per-node N [--nnodes M --node-rank K --master-addr HOST --master-port P]`:
// start this node's N workers (node bin/eflip.js train ... with torchrun's environment: RANK,
// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), give each a share of the
// cores (OMP_NUM_THREADS) and, on CUDA, the GPU of its LOCAL_RANK (src/train/run.ts), forward
// SIGINT/SIGTERM once (rank 0 writes one resumable checkpoint, every rank exits 130), and when
// any worker dies stop the others and exit non-zero naming it. Workers leave when the launcher
// goes away (its IPC channel closes), so nothing is left running after a kill -9 of the launcher.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { boundThreadEnv } from '../threads.js';

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** null: a free port (one node only) */
  masterPort: number | null;
  /** `eflip train` arguments of every worker */
  args: string[];
  /** seconds between stopping the workers of a failed job and killing them (default 5) */
  graceS?: number;
  log?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

export class LaunchError extends Error {
  override name = 'LaunchError';
}

interface WorkerProc {
  rank: number;
  localRank: number;
  proc: ChildProcess;
  /** signals the launcher sent it */
  sent: Set<NodeJS.Signals>;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number; byUs: boolean };
}

export function checkLaunch(o: LaunchOptions): void {
  const int = (v: number, name: string, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max)
      throw new LaunchError(`--${name} expects an integer in ${min}..${max}, got ${v}`);
  };
  int(o.nprocPerNode, 'nproc-per-node', 1, 1024);
  int(o.nnodes, 'nnodes', 1, 65536);
  int(o.nodeRank, 'node-rank', 0, o.nnodes - 1);
  if (o.masterPort !== null) int(o.masterPort, 'master-port', 1, 65535);
  if (o.nnodes > 1 && o.masterPort === null)
    throw new LaunchError(
      `--nnodes ${o.nnodes} needs --master-port P (the same free port on the --master-addr host, given to every node)`,
    );
  if (!o.masterAddr.trim() || /\s/.test(o.masterAddr))
    throw new LaunchError(`--master-addr expects a host name or address, got '${o.masterAddr}'`);
  const env = o.env ?? process.env;
  if (env.RANK !== undefined || env.WORLD_SIZE !== undefined) {
    throw new LaunchError(
      `RANK/WORLD_SIZE are already set (this process is a worker of another launcher): run eflip train without --nproc-per-node under torchrun or srun`,
    );
  }
}

/** A TCP port free on this machine now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const describeExit = (w: WorkerProc) =>
  w.exit!.signal ? `was killed by ${w.exit!.signal}` : `exited with code ${w.exit!.code}`;

/** Run this node's workers to the end; resolves with the exit code of the launcher. */
export async function launch(o: LaunchOptions): Promise<number> {
  checkLaunch(o);
  const log = o.log ?? ((m: string) => console.error(m));
  // OMP_NUM_THREADS / MKL_NUM_THREADS bounded once here (one warning), not in every worker
  const env0 = { ...(o.env ?? process.env) };
  boundThreadEnv(env0, log);
  const port = o.masterPort ?? (await freePort());
  const world = o.nnodes * o.nprocPerNode;
  const threads =
    env0.OMP_NUM_THREADS ??
    String(Math.max(1, Math.floor(availableParallelism() / o.nprocPerNode)));
  const bin = fileURLToPath(new URL('../../../bin/eflip.js', import.meta.url));
  const workers: WorkerProc[] = [];
  let failure: WorkerProc | null = null;
  let interrupts = 0;
  let killTimer: NodeJS.Timeout | null = null;
  let settleTimer: NodeJS.Timeout | null = null;

  const signal = (w: WorkerProc, sig: NodeJS.Signals) => {
    if (w.exit) return;
    w.sent.add(sig);
    try {
      w.proc.kill(sig);
    } catch {
      /* gone */
    }
  };
  const stopOthers = () => {
    if (workers.every((w) => w.exit)) return;
    for (const w of workers) signal(w, 'SIGTERM');
    killTimer ??= setTimeout(
      () => {
        for (const w of workers) signal(w, 'SIGKILL');
      },
      (o.graceS ?? 5) * 1000,
    );
  };

  const done = new Promise<void>((resolve) => {
    const check = () => {
      if (workers.every((w) => w.exit)) resolve();
    };
    for (let i = 0; i < o.nprocPerNode; i++) {
      const rank = o.nodeRank * o.nprocPerNode + i;
      const env: NodeJS.ProcessEnv = {
        ...env0,
        RANK: String(rank),
        LOCAL_RANK: String(i),
        WORLD_SIZE: String(world),
        LOCAL_WORLD_SIZE: String(o.nprocPerNode),
        GROUP_RANK: String(o.nodeRank),
        MASTER_ADDR: o.masterAddr,
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: threads,
        EFLIP_LAUNCHED: '1',
      };
      // own process group: a terminal's Ctrl-C reaches the launcher only, which forwards it once
      const proc = spawn(process.execPath, [bin, 'train', ...o.args], {
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        detached: true,
      });
      const w: WorkerProc = { rank, localRank: i, proc, sent: new Set() };
      workers.push(w);
      proc.on('error', (e) => {
        log(`eflip train: could not start rank ${rank}: ${e.message}`);
      });
      proc.on('exit', (code, signal) => {
        // stopped by us: it ended by a signal we sent, or with any code after we sent one
        w.exit = {
          code,
          signal,
          at: Date.now(),
          byUs: w.sent.size > 0 && (!signal || w.sent.has(signal)),
        };
        const ok = code === 0 || (interrupts > 0 && (code === 130 || signal === 'SIGINT'));
        if (!ok && !failure) {
          failure = w;
          // let the other ranks' exits arrive: a rank killed by a signal is the cause, the
          // collective errors of the others are the effect
          settleTimer = setTimeout(stopOthers, 300);
        }
        check();
      });
    }
  });

  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1)
      log(
        `\neflip train: ${sig}: every worker finishes its step, rank 0 writes a resumable checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to abort)`,
      );
    for (const w of workers) signal(w, 'SIGINT');
    if (interrupts > 2) stopOthers();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (settleTimer) clearTimeout(settleTimer);
    if (killTimer) clearTimeout(killTimer);
  }
  if (!failure) {
    // interrupted: never 0 (a requeue wrapper reads 0 as finished), also when a second signal
    // reached the workers after their handlers were gone and killed them (SIGINT, no code 130)
    return interrupts > 0 &&
      workers.some((w) => w.exit!.code === 130 || w.exit!.signal === 'SIGINT')
      ? 130
      : 0;
  }
  // the cause: a worker killed by a signal we did not send, else the first non-zero exit
  const external = workers
    .filter((w) => w.exit!.signal && !w.exit!.byUs)
    .sort((a, b) => a.exit!.at - b.exit!.at);
  const failed = workers
    .filter(
      (w) => !w.exit!.byUs && (w.exit!.signal || (w.exit!.code !== 0 && w.exit!.code !== 130)),
    )
    .sort((a, b) => a.exit!.at - b.exit!.at);
  const cause = external[0] ?? failed[0] ?? failure;
  const others = workers
    .filter((w) => w !== cause)
    .map(
      (w) =>
        `rank ${w.rank} ${!w.exit!.byUs ? describeExit(w) : w.exit!.signal === 'SIGKILL' ? 'did not stop on SIGTERM (stalled?) and was killed' : 'stopped'}`,
    );
  log(
    `eflip train: rank ${cause.rank} of ${world} (local rank ${cause.localRank} on node ${o.nodeRank}, pid ${cause.proc.pid}) ${describeExit(cause)}; ` +
      `the job stopped${others.length ? ` (${others.join(', ')})` : ''}. Resume from the last checkpoint with checkpoint=RUN_DIR.`,
  );
  return cause.exit!.code && cause.exit!.code !== 130 ? cause.exit!.code : 1;
}
