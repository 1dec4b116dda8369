// Hostile input of data-parallel training: launcher flags, a torchrun/SLURM environment that
// lies, a rendezvous that never completes. Each is refused in one line, quickly, writing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { runEflip, assertRefused, snapshot, assertUnchanged, tempDir } from './hostile_helpers.js';
import { freePort } from '../src/train/launcher.js';
import { worldFromEnv, WorldEnvError } from '../src/train/world.js';
import { shardOrder } from '../src/data/sampler.js';
import { tinyCorpus, tinyOverrides } from './train_helpers.js';

const cfg = new URL('../../configs/synth.yaml', import.meta.url).pathname;

test('launcher flags out of range or without --nproc-per-node are refused in one line', async () => {
  const cwd = tempDir();
  const before = snapshot(cwd);
  const cases: [string[], RegExp][] = [
    [['--nproc-per-node', '0'], /--nproc-per-node expects an integer in 1\.\.1024, got 0/],
    [['--nproc-per-node', 'two'], /--nproc-per-node expects an integer, got 'two'/],
    [
      ['--nproc-per-node', '1', '--nnodes', '2', '--node-rank', '2', '--master-port', '29999'],
      /--node-rank expects an integer in 0\.\.1, got 2/,
    ],
    [['--nproc-per-node', '1', '--nnodes', '2'], /--nnodes 2 needs --master-port P/],
    [
      ['--nproc-per-node', '1', '--master-port', '70000'],
      /--master-port expects an integer in 1\.\.65535, got 70000/,
    ],
    [['--node-rank', '1'], /--node-rank needs --nproc-per-node N/],
  ];
  for (const [args, msg] of cases) {
    const r = await runEflip(
      ['train', ...args, '--config', cfg, `data.root=${join(cwd, 'none')}`],
      { cwd },
    );
    assertRefused(r, msg, { code: 2, maxMs: 20_000, label: args.join(' ') });
  }
  // a launcher inside a worker's environment
  const r = await runEflip(['train', '--nproc-per-node', '2', '--config', cfg], {
    cwd,
    env: { RANK: '0', WORLD_SIZE: '2' },
  });
  assertRefused(
    r,
    /RANK\/WORLD_SIZE are already set .* without --nproc-per-node under torchrun or srun/,
    { code: 2, maxMs: 20_000, label: 'nested launcher' },
  );
  assertUnchanged(cwd, before, { label: 'launcher flags' });
});

test('a lying torchrun environment is refused naming the variable', async () => {
  const cwd = tempDir();
  const before = snapshot(cwd);
  const cases: [Record<string, string>, RegExp][] = [
    [
      { RANK: 'abc', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' },
      /environment RANK="abc" is not an integer/,
    ],
    [
      { RANK: '3', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' },
      /RANK=3 is not below WORLD_SIZE=2/,
    ],
    [{ RANK: '1', WORLD_SIZE: '2', MASTER_PORT: '29500' }, /MASTER_ADDR is not set/],
    [
      { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'localhost:29500', MASTER_PORT: '29500' },
      /MASTER_ADDR="localhost:29500" is not a host name or IP address \(the port goes in MASTER_PORT\)/,
    ],
    [
      { SLURM_PROCID: '5', SLURM_NTASKS: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' },
      /environment SLURM_PROCID=5 is not below SLURM_NTASKS=2/,
    ],
    [
      { SLURM_PROCID: '0', SLURM_NTASKS: 'abc' },
      /environment SLURM_NTASKS="abc" is not an integer/,
    ],
    [{ WORLD_SIZE: '2' }, /WORLD_SIZE but no RANK/],
    [
      { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '99999' },
      /MASTER_PORT="99999" is not an integer in 1\.\.65535/,
    ],
  ];
  for (const [env, msg] of cases) {
    const r = await runEflip(['train', '--config', cfg, `data.root=${join(cwd, 'none')}`], {
      cwd,
      env,
    });
    assertRefused(r, msg, { code: 2, maxMs: 20_000, label: JSON.stringify(env) });
  }
  assertUnchanged(cwd, before, { label: 'environment' });
});

test('a rendezvous that never completes stops after train.dist_timeout naming the missing rank', async () => {
  const cwd = tempDir();
  const before = snapshot(cwd);
  const port = await freePort();
  const r = await runEflip(
    ['train', '--config', cfg, `data.root=${join(cwd, 'none')}`, 'train.dist_timeout=2'],
    {
      cwd,
      env: { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
    },
  );
  assertRefused(r, /\[rank 0\/2\].*timed out after 2(\.0)? s.*missing: rank 1/, {
    code: 1,
    maxMs: 20_000,
    label: 'rendezvous',
  });
  assertUnchanged(cwd, before, { label: 'rendezvous' });
});

test('ranks given different WORLD_SIZE: the one that differs from the store host says so (it looked like a timeout)', async () => {
  const cwd = tempDir();
  const port = await freePort();
  const env = (rank: number, world: number) => ({
    RANK: String(rank),
    WORLD_SIZE: String(world),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
  });
  const args = ['train', '--config', cfg, `data.root=${join(cwd, 'none')}`, 'train.dist_timeout=3'];
  const host = runEflip(args, { cwd, env: env(0, 2) });
  await new Promise((r) => setTimeout(r, 1500));
  const other = await runEflip(args, { cwd, env: env(1, 3) });
  assertRefused(
    other,
    /\[rank 1\/3\].*rank 1 has WORLD_SIZE=3, the rank hosting the store has WORLD_SIZE=2; every rank needs the same/,
    {
      code: 1,
      maxMs: 20_000,
      label: 'world mismatch',
    },
  );
  await host;
});

test('a program on MASTER_PORT that is no store: silent, it fails within train.dist_timeout; talking first, at once (each hung for good or aborted the process)', async () => {
  const { spawn } = await import('node:child_process');
  const cwd = tempDir();
  for (const [mode, msg, maxMs] of [
    [
      'silent',
      /the store did not answer within 2 s .*is MASTER_PORT used by another program\?/,
      20_000,
    ],
    ['talks', /is not an eflip store: the program there sends data of its own/, 15_000],
  ] as [string, RegExp, number][]) {
    const port = await freePort();
    // a TCP server that accepts and then never answers, or greets every connection with bytes
    const peer = spawn('python3', [
      '-c',
      `import socket,threading,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('127.0.0.1',${port})); s.listen(50)
print('ready', flush=True)
def h(c):
    ${mode === 'talks' ? "c.sendall(b'SSH-2.0-OpenSSH_9.2\\r\\n' + b'\\xff' * 100000)" : 'pass'}
    time.sleep(600)
while True:
    c,_=s.accept(); threading.Thread(target=h,args=(c,),daemon=True).start()`,
    ]);
    await new Promise<void>((resolve) => peer.stdout!.once('data', () => resolve()));
    try {
      const r = await runEflip(
        ['train', '--config', cfg, `data.root=${join(cwd, 'none')}`, 'train.dist_timeout=2'],
        {
          cwd,
          env: { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
          timeoutMs: 60_000,
        },
      );
      assertRefused(r, msg, { code: 1, maxMs, label: mode });
    } finally {
      peer.kill('SIGKILL');
    }
  }
});

test('ranks that see different data are refused before the first step, naming what differs', async () => {
  const cwd = tempDir();
  const root = tinyCorpus();
  const port = await freePort();
  const env = (rank: number) => ({
    RANK: String(rank),
    WORLD_SIZE: '2',
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
  });
  // rank 1 is given one word of the two: other clips, other classes
  const [r0, r1] = await Promise.all([
    runEflip(
      ['train', '--config', cfg, ...tinyOverrides(root, join(cwd, 'run')), 'train.dist_timeout=30'],
      { cwd, env: env(0) },
    ),
    runEflip(
      [
        'train',
        '--config',
        cfg,
        ...tinyOverrides(root, join(cwd, 'run')),
        'data.words=1',
        'train.dist_timeout=30',
      ],
      { cwd, env: env(1) },
    ),
  ]);
  for (const [r, k] of [
    [r0, 0],
    [r1, 1],
  ] as const) {
    assertRefused(
      r,
      new RegExp(
        `\\[rank ${k}/2\\]: the ranks see different data: training clips is \\d+ on rank ${k}.*classes is ${k === 0 ? 2 : 1} on rank ${k}.* every machine needs the same data`,
      ),
      { code: 1, maxMs: 60_000, label: `rank ${k}` },
    );
  }
  assert.ok(!existsSync(join(cwd, 'run', 'checkpoints', 'last.ckpt')), 'no checkpoint');
});

test('worldFromEnv: torchrun first, SLURM as the fallback, a single process without either', () => {
  assert.equal(worldFromEnv({}).worldSize, 1);
  const t = worldFromEnv({
    RANK: '5',
    WORLD_SIZE: '8',
    LOCAL_RANK: '1',
    LOCAL_WORLD_SIZE: '4',
    MASTER_ADDR: 'node0',
    MASTER_PORT: '29400',
  });
  assert.deepEqual(t, {
    rank: 5,
    worldSize: 8,
    localRank: 1,
    localWorldSize: 4,
    masterAddr: 'node0',
    masterPort: 29400,
    source: 'torchrun',
  });
  const s = worldFromEnv({
    SLURM_PROCID: '3',
    SLURM_NTASKS: '4',
    SLURM_LOCALID: '1',
    SLURM_NTASKS_PER_NODE: '2',
    MASTER_ADDR: 'n1',
    MASTER_PORT: '29500',
  });
  assert.deepEqual(s, {
    rank: 3,
    worldSize: 4,
    localRank: 1,
    localWorldSize: 2,
    masterAddr: 'n1',
    masterPort: 29500,
    source: 'slurm',
  });
  assert.equal(worldFromEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '1' }).worldSize, 1); // a 1-task srun
  assert.throws(() => worldFromEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2' }), WorldEnvError);
});

test('DistributedSampler: disjoint shards covering the padded epoch, the same order for any world size', () => {
  const order = [7, 3, 9, 0, 5, 1, 8, 2, 6, 4];
  for (const W of [1, 2, 3, 4, 7]) {
    const parts = Array.from({ length: W }, (_, r) =>
      shardOrder(order, { rank: r, world: W }, true),
    );
    const per = Math.ceil(order.length / W);
    const seen: number[] = [];
    for (const [r, p] of parts.entries()) {
      assert.equal(p.indices.length, per, `W=${W} rank ${r}`);
      for (const [j, pos] of p.positions.entries()) {
        assert.equal(pos, r + j * W);
        assert.equal(p.indices[j], order[pos % order.length]);
        seen.push(pos);
      }
    }
    // positions 0..per·W−1 exactly once; the padding repeats the start of the order
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: per * W }, (_, i) => i),
    );
    // without padding (evaluation) every clip exactly once
    const ev = Array.from({ length: W }, (_, r) => [
      ...shardOrder(order, { rank: r, world: W }, false).indices,
    ])
      .flat()
      .sort((a, b) => a - b);
    assert.deepEqual(
      ev,
      [...order].sort((a, b) => a - b),
    );
  }
});
