// c10d process groups between real node processes on 127.0.0.1 (gloo): collectives, the
// rendezvous timeout naming the missing rank, a killed or stalled peer failing the pending
// collective within the timeout, GradSync == full-batch gradients, SyncBatchNorm parity.
// Each scenario's rank code is in test/distributed_worker.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as E from '../src/engine/index.js';

const WORKER = fileURLToPath(new URL('./distributed_worker.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface RankRun {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  result: Record<string, any> | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function startRank(
  scenario: string,
  rank: number,
  world: number,
  port: number,
  timeoutMs: number,
): { child: ChildProcess; done: Promise<RankRun> } {
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [WORKER, scenario, String(rank), String(world), String(port), String(timeoutMs)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
  const done = new Promise<RankRun>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({
        rank,
        code,
        signal,
        result: line ? JSON.parse(line.slice(7)) : null,
        stdout,
        stderr,
        ms: Date.now() - t0,
      });
    });
  });
  return { child, done };
}

async function runRanks(scenario: string, world = 2, timeoutMs = 20000): Promise<RankRun[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: world }, (_, r) => startRank(scenario, r, world, port, timeoutMs).done),
  );
}

function ok(r: RankRun): Record<string, any> {
  assert.equal(
    r.code,
    0,
    `rank ${r.rank} exited with ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`,
  );
  assert.ok(r.result, `rank ${r.rank} printed no RESULT:\n${r.stdout}`);
  return r.result!;
}

test('in-process checks: arguments refused with the fix, world of one, backends of this build', () => {
  assert.equal(
    E.ProcessGroup.available('gloo'),
    true,
    'the addon must be built with gloo (libgloo-dev)',
  );
  assert.throws(
    () => E.ProcessGroup.init({ rank: 2, worldSize: 2 }),
    (e: Error) =>
      e instanceof E.RendezvousError &&
      /rank must be an integer in \[0, 1\], got 2/.test(e.message),
  );
  assert.throws(
    () => E.ProcessGroup.init({ rank: 0, worldSize: 0 }),
    /worldSize must be an integer/,
  );
  assert.throws(
    () => E.ProcessGroup.init({ rank: 0, worldSize: 1, backend: 'mpi' as E.Backend }),
    /backend must be 'gloo' or 'nccl'/,
  );
  assert.throws(
    () => E.ProcessGroup.init({ rank: 0, worldSize: 1, masterPort: 70000 }),
    /masterPort must be an integer in \[1, 65535\]/,
  );
  if (!E.ProcessGroup.available('nccl')) {
    assert.throws(
      () => E.ProcessGroup.init({ rank: 0, worldSize: 1, backend: 'nccl' }),
      /no nccl backend; build the addon against a CUDA libtorch/,
    );
  }
});

test('a master port already in use is refused naming the port, without waiting for the timeout', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    const t0 = Date.now();
    assert.throws(
      () => E.ProcessGroup.init({ rank: 0, worldSize: 2, masterPort: port, timeoutMs: 20000 }),
      (e: Error) =>
        e instanceof E.RendezvousError &&
        e.message.startsWith(
          `rendezvous at 127.0.0.1:${port}: rank 0 cannot host the store, port ${port} is in use`,
        ) &&
        !e.message.includes('\n'),
    );
    assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
  } finally {
    busy.close();
  }
});

test('world of one: collectives are the identity, GradSync leaves gradients unchanged', async () => {
  const pg = E.ProcessGroup.init({
    rank: 0,
    worldSize: 1,
    masterPort: await freePort(),
    timeoutMs: 10000,
  });
  try {
    const t = E.tensor([1, 2, 3]);
    pg.allReduce(t, 'avg');
    pg.broadcast(t, 0);
    assert.deepEqual(t.toArray(), [1, 2, 3]);
    const w = E.tensor([
      [1, 2],
      [3, 4],
    ]).requiresGrad_();
    const sync = new E.GradSync(pg, [w]);
    sync.prepare();
    w.mul(w).sum().backward();
    assert.deepEqual(sync.finish(), { bucketsDuringBackward: 1 });
    assert.deepEqual(w.grad!.toArray(), [
      [2, 4],
      [6, 8],
    ]);
    assert.throws(() => sync.finish(), /finish\(\) without prepare\(\)/);
    sync.dispose();
    assert.throws(
      () =>
        pg.allReduce(
          E.tensor([
            [1, 2],
            [3, 4],
          ]).t(),
          'sum',
        ),
      /allReduce: tensors must be contiguous/,
    );
  } finally {
    pg.dispose();
  }
  assert.throws(
    () => pg.barrier(),
    (e: Error) => e instanceof E.DistributedError && /used after dispose/.test(e.message),
  );
});

test('2 processes: broadcast, allReduce sum/avg/max/min, async allReduce, allGather, barrier', async () => {
  const runs = await runRanks('collectives');
  for (const r of runs.map(ok)) {
    assert.deepEqual(r.sum, [3, 30]);
    assert.deepEqual(r.avg, [1.5, 1]);
    assert.deepEqual(r.max, [1, 0]);
    assert.deepEqual(r.min, [0, -1]);
    assert.deepEqual(r.bcast, [
      [5, 6],
      [7, 8],
    ]);
    assert.deepEqual(r.gather, [[0], [100]]);
    assert.deepEqual(r.async, [[2, 4, 6], [1]]);
    assert.match(
      r.badOp,
      /^DistributedError: allReduce: op must be sum, avg, max or min, got "prod"$/,
    );
    assert.match(
      r.afterDispose,
      /^DistributedError: process group \(rank \d\): used after dispose\(\)$/,
    );
  }
});

test('rendezvous that never completes times out within timeoutMs naming the missing ranks', async () => {
  const port = await freePort();
  const [alone] = await Promise.all([startRank('rendezvousAlone', 0, 3, port, 2000).done]);
  const r = ok(alone);
  assert.equal(r.name, 'RendezvousError');
  assert.equal(
    r.message,
    `rendezvous at 127.0.0.1:${port} timed out after 2 s: 1 of 3 ranks joined (missing: ranks 1, 2)`,
  );
  assert.ok(r.ms >= 1900 && r.ms < 5000, `timed out after ${r.ms} ms`);
  // a non-zero rank with nobody hosting the store
  const lone = ok(await startRank('rendezvousAlone', 1, 2, await freePort(), 2000).done);
  assert.equal(lone.name, 'RendezvousError');
  assert.match(
    lone.message,
    /timed out after 2 s: rank 1 could not reach the store hosted by rank 0/,
  );
  assert.ok(lone.ms < 5000, `gave up after ${lone.ms} ms`);
});

test('a peer killed with SIGKILL fails the pending allReduce within the timeout, naming the op and rank', async () => {
  const [r0, r1] = await runRanks('kill', 2, 10000);
  assert.equal(r1.signal, 'SIGKILL');
  const r = ok(r0);
  assert.equal(r.failed, true);
  assert.equal(r.name, 'DistributedError');
  assert.equal(r.op, 'allReduce');
  assert.equal(r.rank, 0);
  assert.match(
    r.message,
    /^allReduce failed on rank 0 of 2: a peer closed its connection \(a rank crashed or was killed\)/,
  );
  assert.ok(!r.message.includes('\n'), 'one line');
  assert.ok(r.ms < 10000, `failed after ${r.ms} ms`);
});

test('a stalled peer fails the pending allReduce after the collective timeout', async () => {
  const port = await freePort();
  const a = startRank('stall', 0, 2, port, 2000);
  const b = startRank('stall', 1, 2, port, 2000);
  const r0 = await a.done;
  b.child.kill('SIGKILL');
  await b.done;
  const r = ok(r0);
  assert.equal(r.failed, true);
  assert.match(
    r.message,
    /^allReduce failed on rank 0 of 2: timed out after 2 s \(a rank stalled or died\)/,
  );
  assert.ok(r.ms >= 1900 && r.ms < 6000, `failed after ${r.ms} ms`);
});

test('GradSync: 2 ranks with half batches get the full-batch gradients (buckets overlap backward)', async () => {
  const runs = (await runRanks('gradSync')).map(ok);
  for (const r of runs) {
    assert.ok(r.diff < 1e-5, `averaged gradients differ from the full batch by ${r.diff}`);
    assert.ok(
      r.localDiff > 1e-3,
      'the half-batch gradients alone must differ (else the test proves nothing)',
    );
    assert.ok(r.buckets >= 2, `expected several buckets, got ${r.buckets}`);
    assert.ok(r.during >= 1, 'no bucket was launched during backward');
  }
  assert.equal(
    runs[0].paramsAfterBroadcast,
    runs[1].paramsAfterBroadcast,
    'broadcast from rank 0 must make parameters equal',
  );
});

test('SyncBatchNorm: uneven shares on 2 ranks == BatchNorm over the whole batch (output, grads, running stats)', async () => {
  for (const r of (await runRanks('syncBn')).map(ok)) {
    assert.equal(r.synced, 1);
    for (const k of ['y', 'xGrad', 'wGrad', 'bGrad', 'runningMean', 'runningVar']) {
      assert.ok(r[k] < 1e-5, `${k} differs by ${r[k]}`);
    }
  }
});

test('3 SGD steps with GradSync + SyncBatchNorm on 2 ranks == 3 steps on the full batch in one process', async () => {
  for (const r of (await runRanks('ddpSteps')).map(ok)) {
    assert.ok(r.paramDiff < 1e-5, `parameters differ by ${r.paramDiff} (relative)`);
    assert.ok(r.runningDiff < 1e-5, `running statistics differ by ${r.runningDiff} (relative)`);
  }
});
