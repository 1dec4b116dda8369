import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  tensor,
  tidy,
  liveTensors,
  manualSeed,
  randn,
  noGrad,
  foreachAdamW_,
  type Tensor,
} from '../src/engine/index.js';
import { native } from '../src/engine/native.js';

const hasNativeAdamW = () => typeof native.adamwStep === 'function';
import { AdamW } from '../src/train/adamw.js';
import { Ema } from '../src/train/ema.js';

// deterministic pseudo-random values
const vals = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.5);

const PY = `
import json, sys, torch
d = json.load(sys.stdin)
ps = [torch.tensor(p['v'], dtype=torch.float32).reshape(p['shape']).requires_grad_() for p in d['params']]
groups = [{'params': [p for p, s in zip(ps, d['params']) if len(s['shape']) > 1], 'weight_decay': d['wd']},
          {'params': [p for p, s in zip(ps, d['params']) if len(s['shape']) <= 1], 'weight_decay': 0.0}]
opt = torch.optim.AdamW(groups, lr=1.0, betas=tuple(d['betas']), eps=d['eps'])
for step, lr in enumerate(d['lrs']):
    for g in opt.param_groups: g['lr'] = lr
    for i, p in enumerate(ps): p.grad = torch.tensor(d['grads'][step][i], dtype=torch.float32).reshape(p.shape)
    opt.step()
print(json.dumps([p.detach().reshape(-1).tolist() for p in ps]))
`;

test('AdamW matches torch.optim.AdamW (decoupled decay, no decay on 1-D params)', () => {
  const shapes = [[4, 3], [3], [5]];
  const params = shapes.map((s, i) => ({
    shape: s,
    v: vals(
      s.reduce((a, b) => a * b, 1),
      i + 1,
    ),
  }));
  const lrs = [1e-2, 5e-3, 2e-2, 1e-3, 1e-2];
  const grads = lrs.map((_, st) =>
    shapes.map((s, i) =>
      vals(
        s.reduce((a, b) => a * b, 1),
        100 + st * 7 + i,
      ).map((x) => x * (st + 1)),
    ),
  );
  const opts = {
    lr: 1,
    betas: [0.9, 0.98] as [number, number],
    eps: 1e-8,
    weightDecay: 0.1,
    noDecayNormBias: true,
  };
  const live0 = liveTensors();
  const ts: Tensor[] = params.map((p) => tensor(p.v, { shape: p.shape }).requiresGrad_());
  const opt = new AdamW(
    ts.map((param, i) => ({ name: `p${i}`, param })),
    opts,
  );
  assert.deepEqual([...opt.noDecay].sort(), ['p1', 'p2']);
  lrs.forEach((lr, st) => {
    tidy(() =>
      ts.forEach((t, i) => {
        t.grad = tensor(grads[st][i], { shape: shapes[i] });
      }),
    );
    opt.step(lr);
    opt.zeroGrad();
  });
  const ours = tidy(() => ts.map((t) => Array.from(t.detach().toArrayFlat() as number[])));
  const ref = JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', PY], {
      input: JSON.stringify({ params, grads, lrs, wd: 0.1, betas: opts.betas, eps: opts.eps }),
      encoding: 'utf8',
    }),
  );
  let maxErr = 0;
  ours.forEach((o, i) =>
    o.forEach((v, j) => {
      maxErr = Math.max(maxErr, Math.abs(v - ref[i][j]));
    }),
  );
  assert.ok(maxErr < 1e-6, `max |ours - torch| = ${maxErr}`);
  assert.equal(opt.stepCount, 5);
  opt.dispose();
  ts.forEach((t) => t.dispose());
  assert.equal(liveTensors(), live0, 'no leaked tensors');
});

test('EMA tracks weights and buffers with warm-up decay; swap and restore', () => {
  const w = tensor([1, 1], { shape: [2] });
  const buf = tensor([0], { shape: [1] });
  const state = new Map([
    ['w', w],
    ['bn.running_mean', buf],
  ]);
  const ema = new Ema(state, 0.9);
  tidy(() => {
    w.copy_(tensor([3, 5], { shape: [2] }));
    buf.copy_(tensor([10], { shape: [1] }));
  });
  ema.update(state); // decay min(0.9, 1/10) = 0.1 → shadow = 0.1·old + 0.9·new
  const s = ema.shadow.get('w')!.toArrayFlat() as number[];
  assert.ok(
    Math.abs(s[0] - (0.1 * 1 + 0.9 * 3)) < 1e-6 && Math.abs(s[1] - (0.1 * 1 + 0.9 * 5)) < 1e-6,
  );
  assert.ok(Math.abs((ema.shadow.get('bn.running_mean')!.toArrayFlat() as number[])[0] - 9) < 1e-6);
  const restore = ema.swapInto(state);
  assert.ok(Math.abs((w.toArrayFlat() as number[])[0] - 2.8) < 1e-6);
  restore();
  assert.deepEqual(w.toArrayFlat(), [3, 5]);
  ema.dispose();
  w.dispose();
  buf.dispose();
});

test('foreachAdamW_: the one-call step (fused CPU pass, ATen ops for other dtypes/layouts) equals the per-tensor ops', () => {
  const live0 = liveTensors();
  tidy(() => {
    manualSeed(3);
    // contiguous, channels-last 4-d (grad and moments NHWC too), a 1-d bias, a float64 one,
    // one big enough to be split over threads, and a channels-last param with a contiguous grad
    const make = () => [
      randn([6, 5]),
      randn([4, 3, 3, 3]).contiguous('channelsLast'),
      randn([7]),
      randn([3, 2], { dtype: 'float64' }),
      randn([70_001]),
      randn([2, 3, 2, 2]).contiguous('channelsLast'),
    ];
    const ps = make();
    const gs = make().map((g, i) => (i === 5 ? g.contiguous() : g));
    const ms = make().map((m, i) => (i === 5 ? m : m.mul(0.1)));
    const vs = make().map((v) => v.abs().mul(0.01));
    const decays = [true, true, false, true, true, false];
    const ref = [ps, ms, vs].map((xs) => xs.map((x) => x.clone()));
    const s = {
      decayFactor: 1 - 1e-3 * 0.05,
      w1: 0.1,
      beta2: 0.98,
      w2: 0.02,
      bc2Sqrt: Math.sqrt(1 - 0.98 ** 3),
      eps: 1e-8,
      negStepSize: -1e-3 / (1 - 0.9 ** 3),
    };
    const fused = foreachAdamW_(ps, gs, ms, vs, decays, s);
    // float32 with matching layouts fused; the float64 one and the NHWC one with an NCHW grad not
    if (hasNativeAdamW()) assert.equal(fused, 4);
    noGrad(() =>
      ref[0].forEach((p, i) => {
        const [g, m, v] = [gs[i], ref[1][i], ref[2][i]];
        if (decays[i]) p.mul_(s.decayFactor);
        m.lerp_(g, s.w1);
        v.mul_(s.beta2).addcmul_(g, g, s.w2);
        p.addcdiv_(m, v.sqrt().div_(s.bc2Sqrt).add_(s.eps), s.negStepSize);
      }),
    );
    [ps, ms, vs].forEach((xs, k) =>
      xs.forEach((x, i) => {
        const err = x.sub(ref[k][i]).abs().max().item() as number;
        const scale = ref[k][i].abs().max().item() as number;
        assert.ok(err <= 1e-6 * Math.max(1, scale), `tensor ${k}/${i}: max error ${err}`);
      }),
    );
    assert.ok(ps[1].isContiguous('channelsLast'), 'a channels-last parameter stays NHWC');
    assert.throws(
      () => foreachAdamW_(ps, gs.slice(1), ms, vs, decays, s),
      /same length/,
      'mismatched lists are refused in one line',
    );
  });
  assert.equal(liveTensors(), live0, 'no leaked tensors');
});

test('AdamW refuses what torch refuses: non-finite or negative lr, betas outside [0, 1), a parameter listed twice', () => {
  tidy(() => {
    const w = tensor([1, 2, 3]).requiresGrad_();
    const opt = new AdamW([{ name: 'w', param: w }], {
      lr: 1e-3,
      betas: [0.9, 0.98],
      eps: 1e-8,
      weightDecay: 0,
      noDecayNormBias: false,
    } as never);
    w.grad = tensor([1, 1, 1]);
    for (const lr of [NaN, -1, undefined, Infinity])
      assert.throws(() => opt.step(lr as never), /AdamW\.step: lr must be a finite number >= 0/);
    assert.deepEqual(Array.from(w.toTypedArray() as Float32Array), [1, 2, 3], 'no step was taken');
    assert.throws(
      () =>
        new AdamW([{ name: 'w', param: w }], {
          lr: 1,
          betas: [1, 1],
          eps: 1e-8,
          weightDecay: 0,
        } as never),
      /betas\[0\] must be a finite number in range, got 1/,
    );
    assert.throws(
      () =>
        new AdamW(
          [
            { name: 'a', param: w },
            { name: 'b', param: w },
          ],
          { lr: 1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0 } as never,
        ),
      /parameter 'b' is listed twice/,
    );
  });
});
