// Where this process stands in a data-parallel job, read from the launcher's environment:
// torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT;
// `eflip train --nproc-per-node` sets the same ones), else SLURM's (srun: SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, ...; MASTER_ADDR/MASTER_PORT still come from the job script).
// No variables: a single process.

export interface World {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** where the numbers came from */
  source: 'single' | 'torchrun' | 'slurm';
}

export const SINGLE: World = {
  rank: 0,
  worldSize: 1,
  localRank: 0,
  localWorldSize: 1,
  masterAddr: '127.0.0.1',
  masterPort: 29500,
  source: 'single',
};

export class WorldEnvError extends Error {
  override name = 'WorldEnvError';
}

function int(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw.trim());
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isInteger(v) || v < min || v > max) {
    throw new WorldEnvError(
      `environment ${name}=${JSON.stringify(raw.slice(0, 40))} is not an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? '' : max}; fix or unset it (set by torchrun, srun or eflip train --nproc-per-node)`,
    );
  }
  return v;
}

/** Tasks on this node from SLURM_TASKS_PER_NODE-style "2(x3),1" (the first node's count suffices when uniform). */
function slurmLocalWorld(env: NodeJS.ProcessEnv): number | undefined {
  const s = env.SLURM_NTASKS_PER_NODE ?? env.SLURM_STEP_TASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE;
  const m = s ? /^(\d+)/.exec(s) : null;
  return m ? Number(m[1]) : undefined;
}

/** The world of this process from its environment (torchrun first, then SLURM). */
export function worldFromEnv(env: NodeJS.ProcessEnv = process.env): World {
  const addr = (env.MASTER_ADDR ?? '').trim();
  const port = int(env, 'MASTER_PORT', 1, 65535);
  let w: Omit<World, 'masterAddr' | 'masterPort'>;
  if (env.WORLD_SIZE !== undefined || env.RANK !== undefined) {
    const worldSize = int(env, 'WORLD_SIZE', 1);
    const rank = int(env, 'RANK', 0);
    if (worldSize === undefined || rank === undefined)
      throw new WorldEnvError(
        `environment has ${env.RANK === undefined ? 'WORLD_SIZE but no RANK' : 'RANK but no WORLD_SIZE'}; a data-parallel worker needs both (torchrun and eflip train --nproc-per-node set them)`,
      );
    const localWorldSize = int(env, 'LOCAL_WORLD_SIZE', 1) ?? worldSize;
    w = {
      rank,
      worldSize,
      localRank: int(env, 'LOCAL_RANK', 0) ?? rank % localWorldSize,
      localWorldSize,
      source: 'torchrun',
    };
  } else if (
    env.SLURM_PROCID !== undefined &&
    env.SLURM_NTASKS !== undefined &&
    (Number(env.SLURM_NTASKS) > 1 || !/^\s*\d+\s*$/.test(env.SLURM_NTASKS))
  ) {
    const worldSize = int(env, 'SLURM_NTASKS', 1)!;
    const rank = int(env, 'SLURM_PROCID', 0)!;
    const localWorldSize = slurmLocalWorld(env) ?? 1;
    w = {
      rank,
      worldSize,
      localRank: int(env, 'SLURM_LOCALID', 0) ?? 0,
      localWorldSize,
      source: 'slurm',
    };
  } else {
    return { ...SINGLE };
  }
  // the variables actually read (SLURM_PROCID/SLURM_NTASKS under srun) are the ones named
  const [R, W] = w.source === 'slurm' ? ['SLURM_PROCID', 'SLURM_NTASKS'] : ['RANK', 'WORLD_SIZE'];
  if (w.rank >= w.worldSize)
    throw new WorldEnvError(`environment ${R}=${w.rank} is not below ${W}=${w.worldSize}`);
  if (w.localRank >= w.localWorldSize)
    throw new WorldEnvError(
      `environment LOCAL_RANK=${w.localRank} is not below LOCAL_WORLD_SIZE=${w.localWorldSize}`,
    );
  if (w.worldSize > 1 && !addr)
    throw new WorldEnvError(
      `WORLD_SIZE=${w.worldSize} but MASTER_ADDR is not set: export MASTER_ADDR=<host of rank 0> and MASTER_PORT=<free port> (srun: in the job script)`,
    );
  // a host name, not host:port (a typo that took the whole dist_timeout of socket retries)
  if (w.worldSize > 1 && /[:/\s;]/.test(addr) && !/^\[?[0-9a-f:]+\]?$/i.test(addr))
    throw new WorldEnvError(
      `MASTER_ADDR="${addr.slice(0, 60)}" is not a host name or IP address (the port goes in MASTER_PORT)`,
    );
  if (w.worldSize > 1 && port === undefined)
    throw new WorldEnvError(
      `WORLD_SIZE=${w.worldSize} but MASTER_PORT is not set: export MASTER_PORT=<free port on the host of rank 0>`,
    );
  return { ...w, masterAddr: addr || '127.0.0.1', masterPort: port ?? 29500 };
}
