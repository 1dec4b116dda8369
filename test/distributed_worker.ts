// One rank of a test/distributed.test.ts scenario (also a small overlap benchmark):
//   node dist/test/distributed_worker.js SCENARIO RANK WORLD PORT [TIMEOUT_MS]
// Prints one line `RESULT <json>` on success; errors print `ERROR <json>` and exit 1.
import * as E from '../src/engine/index.js';
import {
  Module,
  Linear,
  ReLU,
  Sequential,
  BatchNorm2d,
  Conv2d,
  setSyncBatchNorm,
} from '../src/nn/index.js';
import { createModel } from '../src/model/weights.js';

const [scenario, rankS, worldS, portS, timeoutS] = process.argv.slice(2);
const rank = Number(rankS);
const worldSize = Number(worldS);
const masterPort = Number(portS);
const timeoutMs = Number(timeoutS ?? 20000);
E.setNumThreads(1);

const sleep = (ms: number): void =>
  void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const maxDiff = (a: E.Tensor, b: E.Tensor): number => a.sub(b).abs().max().item() as number;
const maxRel = (a: E.Tensor, b: E.Tensor): number =>
  maxDiff(a, b) / Math.max(1, b.abs().max().item() as number);
const named = (m: Module): Map<string, E.Tensor> =>
  new Map([...m.namedParameters(), ...m.namedBuffers()]);
const init = (): E.ProcessGroup =>
  E.ProcessGroup.init({ backend: 'gloo', rank, worldSize, masterPort, timeoutMs });

function collectives(): Record<string, unknown> {
  const pg = init();
  const s = E.tensor([rank + 1, 10 * (rank + 1)]);
  pg.allReduce(s, 'sum');
  const avg = E.tensor([rank + 1, 2 * rank]);
  pg.allReduce(avg, 'avg');
  const mx = E.tensor([rank, -rank]);
  pg.allReduce(mx, 'max');
  const mn = E.tensor([rank, -rank]);
  pg.allReduce(mn, 'min');
  const b =
    rank === 1
      ? E.tensor([
          [5, 6],
          [7, 8],
        ])
      : E.zeros([2, 2]);
  pg.broadcast(b, 1);
  pg.barrier();
  const g = pg.allGather(E.tensor([rank * 100]));
  const w = pg.allReduceAsync([E.tensor([1, 2, 3]), E.tensor([rank])], 'sum');
  const a1 = E.tensor([1, 2, 3]);
  const a2 = E.tensor([rank]);
  const w2 = pg.allReduceAsync([a1, a2], 'sum');
  w.wait();
  w2.wait();
  let badOp = '';
  try {
    pg.allReduce(E.tensor([1]), 'prod' as E.ReduceOpName);
  } catch (e) {
    badOp = `${(e as Error).name}: ${(e as Error).message}`;
  }
  pg.dispose();
  let afterDispose = '';
  try {
    pg.barrier();
  } catch (e) {
    afterDispose = `${(e as Error).name}: ${(e as Error).message}`;
  }
  return {
    sum: s.toArray(),
    avg: avg.toArray(),
    max: mx.toArray(),
    min: mn.toArray(),
    bcast: b.toArray(),
    gather: g.map((t) => t.toArray()),
    async: [a1.toArray(), a2.toArray()],
    badOp,
    afterDispose,
  };
}

function rendezvousAlone(): Record<string, unknown> {
  const t0 = Date.now();
  try {
    init();
    return { joined: true };
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message, ms: Date.now() - t0 };
  }
}

// rank 1 dies (SIGKILL) or stalls while rank 0 waits in an all-reduce
function peerFails(how: 'kill' | 'stall'): Record<string, unknown> {
  const pg = init();
  pg.barrier();
  if (rank === 1) {
    sleep(300);
    if (how === 'kill') process.kill(process.pid, 'SIGKILL');
    sleep(timeoutMs + 5000);
    return {};
  }
  const t0 = Date.now();
  try {
    pg.allReduce(E.ones([1000]), 'sum');
    return { failed: false };
  } catch (e) {
    const err = e as E.DistributedError;
    return {
      failed: true,
      name: err.name,
      message: err.message,
      op: err.op,
      rank: err.rank,
      ms: Date.now() - t0,
    };
  }
}

function mlp(): Module {
  return new Sequential(
    new Linear(16, 64),
    new ReLU(),
    new Linear(64, 64),
    new ReLU(),
    new Linear(64, 4),
  );
}

// gradients averaged by GradSync == gradients of the full batch in one process
function gradSync(): Record<string, unknown> {
  const pg = init();
  E.manualSeed(100 + rank); // different initial weights per rank: the broadcast must fix them
  const model = mlp();
  const params = model.parameters();
  pg.broadcast(params, 0);
  E.manualSeed(7); // same data on every rank
  const X = E.randn([8, 16]);
  const Y = E.randn([8, 4]);
  const loss = (x: E.Tensor, y: E.Tensor): E.Tensor => model.forward(x).sub(y).square().mean();
  loss(X, Y).backward();
  const ref = params.map((p) => p.grad!.clone());
  model.zeroGrad();
  const sync = new E.GradSync(pg, params, { bucketMB: 0.004 }); // ~4 KiB buckets: several of them
  const per = 8 / worldSize;
  const rows = (t: E.Tensor): E.Tensor => t.narrow(0, rank * per, per);
  let diff = 0;
  let during = 0;
  for (let step = 0; step < 2; step++) {
    model.zeroGrad();
    sync.prepare();
    loss(rows(X), rows(Y)).backward();
    during = sync.finish().bucketsDuringBackward;
    diff = Math.max(...params.map((p, i) => maxRel(p.grad!, ref[i])));
  }
  // without prepare(): gradients stay local (gradient accumulation steps)
  model.zeroGrad();
  loss(rows(X), rows(Y)).backward();
  const localDiff = Math.max(...params.map((p, i) => maxRel(p.grad!, ref[i])));
  const paramsAfterBroadcast = E.cat(params.map((p) => p.reshape([-1])))
    .sum()
    .item();
  sync.dispose();
  pg.dispose();
  return { diff, localDiff, buckets: sync.bucketCount, during, paramsAfterBroadcast };
}

// SyncBatchNorm over uneven shares (rank 0: 4 samples, rank 1: 2) == BatchNorm over all 6
function syncBn(): Record<string, unknown> {
  const pg = init();
  E.manualSeed(11);
  const X = E.randn([6, 3, 5, 5]).mul(2).add(0.5);
  const R = E.randn([6, 3, 5, 5]);
  const w0 = E.randn([3]);
  const b0 = E.randn([3]);
  const make = (): BatchNorm2d => {
    const bn = new BatchNorm2d(3, { momentum: 0.3 });
    E.noGrad(() => {
      named(bn).get('weight')!.copy_(w0);
      named(bn).get('bias')!.copy_(b0);
    });
    return bn;
  };
  const ref = make();
  const xr = X.clone().requiresGrad_();
  const yr = ref.forward(xr);
  yr.mul(R).sum().backward();

  const bn = make();
  const synced = setSyncBatchNorm(bn, pg);
  const [start, n] = rank === 0 ? [0, 4] : [4, 2];
  const x = X.narrow(0, start, n).clone().requiresGrad_();
  const y = bn.forward(x);
  y.mul(R.narrow(0, start, n))
    .sum()
    .backward();
  const gw = named(bn).get('weight')!.grad!.clone();
  const gb = named(bn).get('bias')!.grad!.clone();
  pg.allReduce([gw, gb], 'sum');
  const out = {
    synced,
    y: maxRel(y, yr.narrow(0, start, n)),
    xGrad: maxRel(x.grad!, xr.grad!.narrow(0, start, n)),
    wGrad: maxRel(gw, named(ref).get('weight')!.grad!),
    bGrad: maxRel(gb, named(ref).get('bias')!.grad!),
    runningMean: maxRel(named(bn).get('running_mean')!, named(ref).get('running_mean')!),
    runningVar: maxRel(named(bn).get('running_var')!, named(ref).get('running_var')!),
  };
  pg.dispose();
  return out;
}

// K SGD steps of a conv + SyncBatchNorm net with GradSync on half batches == K steps of the
// same net on the full batch in one process (bucket all-reduces and SyncBN's all-reduces
// interleave in backward: this also proves they cannot deadlock or cross)
function ddpSteps(): Record<string, unknown> {
  const pg = init();
  const net = (): Module =>
    new Sequential(
      new Conv2d(3, 8, 3, { padding: 1 }),
      new BatchNorm2d(8),
      new ReLU(),
      new Conv2d(8, 8, 3, { padding: 1, stride: 2 }),
      new BatchNorm2d(8),
      new ReLU(),
    );
  const headOf = (): Linear => new Linear(8 * 4 * 4, 5);
  E.manualSeed(3);
  const refBody = net();
  const refHead = headOf();
  const body = net();
  const head = headOf();
  const all = (b: Module, h: Module): E.Tensor[] => [...b.parameters(), ...h.parameters()];
  E.noGrad(() => all(body, head).forEach((p, i) => p.copy_(all(refBody, refHead)[i])));
  setSyncBatchNorm(body, pg);
  const params = all(body, head);
  const sync = new E.GradSync(pg, params, { bucketMB: 0.001 });
  const loss = (b: Module, h: Module, x: E.Tensor, y: E.Tensor): E.Tensor =>
    E.F.crossEntropy(h.forward(b.forward(x).reshape([x.shape[0], -1])), y);
  const B = 8;
  const per = B / worldSize;
  const lr = 0.1;
  for (let step = 0; step < 3; step++) {
    E.tidy(() => {
      E.manualSeed(50 + step);
      const X = E.randn([B, 3, 8, 8]);
      const Y = E.randint(0, 5, [B]);
      for (const [b, h] of [
        [refBody, refHead],
        [body, head],
      ] as [Module, Module][]) {
        b.zeroGrad();
        h.zeroGrad();
      }
      loss(refBody, refHead, X, Y).backward();
      sync.prepare();
      loss(body, head, X.narrow(0, rank * per, per), Y.narrow(0, rank * per, per)).backward();
      sync.finish();
      E.noGrad(() => {
        for (const p of [...all(refBody, refHead), ...params]) p.sub_(p.grad!, lr);
      });
    });
  }
  const ref = all(refBody, refHead);
  const paramDiff = Math.max(...params.map((p, i) => maxRel(p, ref[i])));
  const runningDiff = Math.max(
    ...[...body.namedBuffers()]
      .filter(([n]) => n.includes('running'))
      .map(([n, t]) => maxRel(t, named(refBody).get(n)!)),
  );
  sync.dispose();
  pg.dispose();
  return { paramDiff, runningDiff };
}

// overlap benchmark on the T model: mean ms per step (forward + backward + gradient sync)
// with the bucket all-reduces overlapping backward vs all of them after backward
function bench(): Record<string, unknown> {
  const pg = init();
  const steps = Number(process.env.BENCH_STEPS ?? 4);
  const batch = Number(process.env.BENCH_BATCH ?? 1);
  const frames = Number(process.env.BENCH_FRAMES ?? 29);
  const model = createModel({ variant: 'T' }, { seed: 1 });
  model.train();
  const params = model.parameters().filter((p) => p.requiresGrad);
  pg.broadcast(params, 0);
  const x = E.randn([batch, 1, frames, 88, 88]);
  const res: Record<string, number> = { params: params.reduce((n, p) => n + p.numel, 0) };
  for (const overlap of [true, false, true, false]) {
    const sync = new E.GradSync(pg, params, {
      overlap,
      bucketMB: Number(process.env.BENCH_BUCKET_MB ?? 1),
    });
    let total = 0;
    let sync0 = 0;
    for (let s = 0; s < steps + 1; s++) {
      E.tidy(() => {
        pg.barrier();
        const t0 = performance.now();
        sync.prepare();
        model.forward(x).mean().backward();
        const t1 = performance.now();
        sync.finish();
        if (s > 0) {
          total += performance.now() - t0;
          sync0 += performance.now() - t1;
        }
      });
    }
    sync.dispose();
    const k = overlap ? 'overlap' : 'after';
    res[`${k}StepMs`] = Math.round(total / steps);
    res[`${k}FinishMs`] = Math.round(sync0 / steps);
    res.buckets = sync.bucketCount;
  }
  pg.dispose();
  return res;
}

const SCENARIOS: Record<string, () => Record<string, unknown>> = {
  collectives,
  rendezvousAlone,
  kill: () => peerFails('kill'),
  stall: () => peerFails('stall'),
  gradSync,
  syncBn,
  ddpSteps,
  bench,
};

try {
  const fn = SCENARIOS[scenario];
  if (!fn) throw new Error(`unknown scenario ${scenario}`);
  console.log(`RESULT ${JSON.stringify(fn())}`);
  process.exit(0);
} catch (e) {
  console.log(
    `ERROR ${JSON.stringify({ name: (e as Error).name, message: (e as Error).message, stack: (e as Error).stack })}`,
  );
  process.exit(1);
}
