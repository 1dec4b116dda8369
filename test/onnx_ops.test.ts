// Hand-built ONNX graphs of every op the network needs: each passes the official checker and
// runs in onnxruntime-node with dynamic batch/time, matching a naive JS reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr, serializeModel } from '../src/io/onnx/graph_builder.js';
import {
  conv,
  foldBatchNorm,
  glu,
  layerNorm,
  linear,
  prelu,
  selfAttention,
  silu,
  timeConv,
  type Weight,
} from '../src/io/onnx/layers.js';
import { readOnnxSummary } from '../src/io/onnx/onnx_reader.js';
import { maxAbsDiff, onnxCheck, randn, tempDir } from './onnx_helpers.js';

// ---------------------------------------------------------------- naive references

/** N-d convolution (1-3 spatial dims), x (B, Cin, ...S), w (Cout, Cin/g, ...K). */
function convRef(
  x: Float32Array,
  xs: number[],
  w: Weight,
  b: Float32Array | undefined,
  stride: number[],
  pad: number[],
  dil: number[],
  groups: number,
) {
  const nd = xs.length - 2;
  const lift = (a: number[], fill: number) => [...new Array(3 - nd).fill(fill), ...a];
  const [B, Ci] = xs;
  const [Co, Cg] = w.shape;
  const S = lift(xs.slice(2), 1),
    K = lift(w.shape.slice(2), 1),
    st = lift(stride, 1),
    pd = lift(pad, 0),
    dl = lift(dil, 1);
  const O = S.map((s, i) => Math.floor((s + 2 * pd[i] - dl[i] * (K[i] - 1) - 1) / st[i]) + 1);
  const out = new Float32Array(B * Co * O[0] * O[1] * O[2]);
  const coPerG = Co / groups;
  let oi = 0;
  for (let n = 0; n < B; n++)
    for (let co = 0; co < Co; co++) {
      const g = Math.floor(co / coPerG);
      for (let a = 0; a < O[0]; a++)
        for (let bb = 0; bb < O[1]; bb++)
          for (let c = 0; c < O[2]; c++) {
            let acc = b ? b[co] : 0;
            for (let ci = 0; ci < Cg; ci++)
              for (let i = 0; i < K[0]; i++) {
                const p = a * st[0] - pd[0] + i * dl[0];
                if (p < 0 || p >= S[0]) continue;
                for (let j = 0; j < K[1]; j++) {
                  const q = bb * st[1] - pd[1] + j * dl[1];
                  if (q < 0 || q >= S[1]) continue;
                  for (let k = 0; k < K[2]; k++) {
                    const r = c * st[2] - pd[2] + k * dl[2];
                    if (r < 0 || r >= S[2]) continue;
                    const xv = x[(((n * Ci + g * Cg + ci) * S[0] + p) * S[1] + q) * S[2] + r];
                    acc += xv * w.data[(((co * Cg + ci) * K[0] + i) * K[1] + j) * K[2] + k];
                  }
                }
              }
            out[oi++] = acc;
          }
    }
  return { data: out, shape: [B, Co, ...O.slice(3 - nd)] };
}

function softmaxRows(x: Float32Array, n: number, log = false): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[r * n + i]);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[r * n + i] - m);
    for (let i = 0; i < n; i++)
      out[r * n + i] = log ? x[r * n + i] - m - Math.log(s) : Math.exp(x[r * n + i] - m) / s;
  }
  return out;
}

function matmulT(
  x: Float32Array,
  rows: number,
  w: Float32Array,
  out: number,
  inp: number,
  b?: Float32Array,
): Float32Array {
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < out; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inp; i++) acc += x[r * inp + i] * w[o * inp + i];
      y[r * out + o] = acc;
    }
  return y;
}

/** PyTorch-style MHA over time for x (B, T, d). */
function attentionRef(
  x: Float32Array,
  B: number,
  T: number,
  d: number,
  H: number,
  wi: Float32Array,
  bi: Float32Array,
  wo: Float32Array,
  bo: Float32Array,
) {
  const qkv = matmulT(x, B * T, wi, 3 * d, d, bi);
  const dh = d / H;
  const ctx = new Float32Array(B * T * d);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const sc = new Float32Array(T);
        for (let u = 0; u < T; u++) {
          let s = 0;
          for (let i = 0; i < dh; i++)
            s += qkv[(b * T + t) * 3 * d + h * dh + i] * qkv[(b * T + u) * 3 * d + d + h * dh + i];
          sc[u] = s / Math.sqrt(dh);
        }
        const p = softmaxRows(sc, T);
        for (let i = 0; i < dh; i++) {
          let s = 0;
          for (let u = 0; u < T; u++) s += p[u] * qkv[(b * T + u) * 3 * d + 2 * d + h * dh + i];
          ctx[(b * T + t) * d + h * dh + i] = s;
        }
      }
  return matmulT(ctx, B * T, wo, d, d, bo);
}

// ---------------------------------------------------------------- cases

interface Case {
  name: string;
  g: GraphBuilder;
  /** runs with different dynamic sizes: feeds → expected outputs */
  runs: {
    feeds: Record<string, { data: Float32Array; dims: number[] }>;
    expect: Record<string, Float32Array>;
    tol?: number;
  }[];
}

function cases(): Case[] {
  const out: Case[] = [];
  {
    // Conv3d (1→4, k 3×5×5, stride 1,2,2, pad 1,2,2) with dynamic batch and time
    const g = new GraphBuilder('conv3d');
    const w = { data: randn(4 * 75, 1, 0.2), shape: [4, 1, 3, 5, 5] };
    const b = randn(4, 2, 0.1);
    const x = g.input('x', ['batch', 1, 'time', 12, 12]);
    g.output(conv(g, x, 'c', w, b, { stride: [1, 2, 2], padding: [1, 2, 2] }), 'y', [
      'batch',
      4,
      'time',
      6,
      6,
    ]);
    out.push({
      name: 'conv3d',
      g,
      runs: [
        [1, 3],
        [2, 5],
      ].map(([B, T], i) => {
        const xs = [B, 1, T, 12, 12];
        const xd = randn(B * T * 144, 10 + i);
        return {
          feeds: { x: { data: xd, dims: xs } },
          expect: { y: convRef(xd, xs, w, b, [1, 2, 2], [1, 2, 2], [1, 1, 1], 1).data },
        };
      }),
    });
  }
  {
    // Conv2d 3×3 stride 2 + BatchNorm: folded conv = conv→BatchNormalization = naive
    const g = new GraphBuilder('conv_bn');
    const w = { data: randn(6 * 4 * 9, 3, 0.3), shape: [6, 4, 3, 3] };
    const bn = {
      weight: randn(6, 4, 0.3).map((v) => 1 + v),
      bias: randn(6, 5, 0.2),
      runningMean: randn(6, 6, 0.2),
      runningVar: randn(6, 7, 0.4).map((v) => 1 + v),
      eps: 1e-5,
    };
    const x = g.input('x', ['batch', 4, 9, 9]);
    const f = foldBatchNorm(w, undefined, bn);
    g.output(conv(g, x, 'folded', f.w, f.b, { stride: [2, 2], padding: [1, 1] }), 'folded', [
      'batch',
      6,
      5,
      5,
    ]);
    const raw = conv(g, x, 'raw', w, undefined, { stride: [2, 2], padding: [1, 1] });
    const bnOut = g.op(
      'BatchNormalization',
      [
        raw,
        g.initializer('bn.w', bn.weight, [6]),
        g.initializer('bn.b', bn.bias, [6]),
        g.initializer('bn.m', bn.runningMean, [6]),
        g.initializer('bn.v', bn.runningVar, [6]),
      ],
      { epsilon: attr.float(1e-5) },
    );
    g.output(bnOut, 'unfolded', ['batch', 6, 5, 5]);
    const B = 3;
    const xd = randn(B * 4 * 81, 8);
    const ref = convRef(xd, [B, 4, 9, 9], w, undefined, [2, 2], [1, 1], [1, 1], 1).data;
    const expect = new Float32Array(ref.length);
    for (let i = 0; i < ref.length; i++) {
      const c = Math.floor(i / 25) % 6;
      expect[i] =
        ((ref[i] - bn.runningMean[c]) / Math.sqrt(bn.runningVar[c] + 1e-5)) * bn.weight[c] +
        bn.bias[c];
    }
    out.push({
      name: 'conv2d_bn_fold',
      g,
      runs: [
        {
          feeds: { x: { data: xd, dims: [B, 4, 9, 9] } },
          expect: { folded: expect, unfolded: expect },
        },
      ],
    });
  }
  {
    // depthwise 3×3 (groups = channels) + SiLU, PRelu per-channel and single
    const g = new GraphBuilder('depthwise');
    const w = { data: randn(5 * 9, 11, 0.4), shape: [5, 1, 3, 3] };
    const x = g.input('x', ['batch', 5, 7, 7]);
    const y = conv(g, x, 'dw', w, undefined, { padding: [1, 1], groups: 5 });
    g.output(silu(g, y), 'silu', ['batch', 5, 7, 7]);
    g.output(prelu(g, y, 'pc', Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5]), 4), 'prelu_c', [
      'batch',
      5,
      7,
      7,
    ]);
    g.output(prelu(g, y, 'p1', Float32Array.from([0.25]), 4), 'prelu_1', ['batch', 5, 7, 7]);
    g.output(g.op('Relu', [y]), 'relu', ['batch', 5, 7, 7]);
    const xd = randn(2 * 5 * 49, 12);
    const r = convRef(xd, [2, 5, 7, 7], w, undefined, [1, 1], [1, 1], [1, 1], 5).data;
    const ch = (i: number) => Math.floor(i / 49) % 5;
    out.push({
      name: 'depthwise_act',
      g,
      runs: [
        {
          feeds: { x: { data: xd, dims: [2, 5, 7, 7] } },
          expect: {
            silu: r.map((v) => v / (1 + Math.exp(-v))),
            prelu_c: r.map((v, i) => (v >= 0 ? v : v * [0.1, 0.2, 0.3, 0.4, 0.5][ch(i)])),
            prelu_1: r.map((v) => (v >= 0 ? v : 0.25 * v)),
            relu: r.map((v) => Math.max(0, v)),
          },
        },
      ],
    });
  }
  {
    // Time-major dilated conv (the TCN's form): (B, T, Cin) → MatMul over stacked taps = conv1d
    // of the transposed input; and PReLU over the last axis
    const g = new GraphBuilder('time_conv');
    const w = { data: randn(3 * 2 * 3, 15, 0.5), shape: [3, 2, 3] };
    const b = randn(3, 16, 0.1);
    const slope = Float32Array.from([0.1, 0.2, 0.3]);
    const x = g.input('x', ['batch', 'time', 2]);
    const y = timeConv(g, x, 'tm', w, b, 2);
    g.output(y, 'y', ['batch', 'time', 3]);
    g.output(prelu(g, y, 'pl', slope, 2), 'prelu_last', ['batch', 'time', 3]);
    out.push({
      name: 'time_major_conv',
      g,
      runs: [
        [1, 3],
        [2, 11],
      ].map(([B, T], i) => {
        const xt = randn(B * T * 2, 30 + i); // (B, T, 2)
        const xc = new Float32Array(B * 2 * T); // (B, 2, T)
        for (let n = 0; n < B; n++)
          for (let t0 = 0; t0 < T; t0++)
            for (let c = 0; c < 2; c++) xc[(n * 2 + c) * T + t0] = xt[(n * T + t0) * 2 + c];
        const rc = convRef(xc, [B, 2, T], w, b, [1], [2], [2], 1).data; // (B, 3, T)
        const yt = new Float32Array(B * T * 3);
        for (let n = 0; n < B; n++)
          for (let t0 = 0; t0 < T; t0++)
            for (let c = 0; c < 3; c++) yt[(n * T + t0) * 3 + c] = rc[(n * 3 + c) * T + t0];
        return {
          feeds: { x: { data: xt, dims: [B, T, 2] } },
          expect: { y: yt, prelu_last: yt.map((v, j) => (v >= 0 ? v : v * slope[j % 3])) },
        };
      }),
    });
  }
  {
    // Conv1d dilated (dilation 4, padding 4) over dynamic time; ReduceMean over time; Pad
    const g = new GraphBuilder('conv1d');
    const w = { data: randn(3 * 2 * 3, 13, 0.5), shape: [3, 2, 3] };
    const b = randn(3, 14, 0.1);
    const x = g.input('x', ['batch', 2, 'time']);
    const y = conv(g, x, 'tc', w, b, { padding: [4], dilation: [4] });
    g.output(y, 'y', ['batch', 3, 'time']);
    g.output(g.op('ReduceMean', [y], { axes: [2], keepdims: 0 }), 'mean', ['batch', 3]);
    g.output(g.op('Pad', [x, g.int64s([0, 0, 1, 0, 0, 2])], { mode: 'constant' }), 'padded', [
      'batch',
      2,
      'time_padded',
    ]);
    out.push({
      name: 'conv1d_dilated',
      g,
      runs: [
        [1, 9],
        [3, 20],
      ].map(([B, T], i) => {
        const xd = randn(B * 2 * T, 20 + i);
        const r = convRef(xd, [B, 2, T], w, b, [1], [4], [4], 1).data;
        const mean = new Float32Array(B * 3).map(
          (_, j) => r.slice(j * T, (j + 1) * T).reduce((a, v) => a + v, 0) / T,
        );
        const padded = new Float32Array(B * 2 * (T + 3));
        for (let r0 = 0; r0 < B * 2; r0++)
          padded.set(xd.subarray(r0 * T, (r0 + 1) * T), r0 * (T + 3) + 1);
        return { feeds: { x: { data: xd, dims: [B, 2, T] } }, expect: { y: r, mean, padded } };
      }),
    });
  }
  {
    // GlobalAveragePool + Flatten + GLU; Reshape/Transpose with dynamic batch/time
    const g = new GraphBuilder('pool_glu');
    const x = g.input('x', ['batch', 'time', 8, 3, 3]);
    const flat = g.op('Reshape', [x, g.int64s([-1, 8, 3, 3])]);
    const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [flat])], { axis: 1 });
    const bt = g.op('Gather', [g.op('Shape', [x]), g.int64s([0, 1])], { axis: 0 });
    const y = g.op('Reshape', [
      glu(g, pooled, 1),
      g.op('Concat', [bt, g.int64s([4])], { axis: 0 }),
    ]);
    g.output(g.op('Transpose', [y], { perm: [0, 2, 1] }), 'y', ['batch', 4, 'time']);
    out.push({
      name: 'pool_glu_reshape',
      g,
      runs: [
        [1, 2],
        [3, 4],
      ].map(([B, T], i) => {
        const xd = randn(B * T * 72, 30 + i);
        const expect = new Float32Array(B * 4 * T);
        for (let b = 0; b < B; b++)
          for (let t = 0; t < T; t++) {
            const m = (c: number) =>
              xd
                .slice(((b * T + t) * 8 + c) * 9, ((b * T + t) * 8 + c + 1) * 9)
                .reduce((a, v) => a + v, 0) / 9;
            for (let c = 0; c < 4; c++)
              expect[(b * 4 + c) * T + t] = m(c) / (1 + Math.exp(-m(c + 4)));
          }
        return { feeds: { x: { data: xd, dims: [B, T, 8, 3, 3] } }, expect: { y: expect } };
      }),
    });
  }
  {
    // Linear (MatMul+Add), Gemm, LayerNormalization, multi-head attention, Softmax, LogSoftmax
    const g = new GraphBuilder('transformer_ops');
    const d = 8,
      H = 2;
    const wi = randn(3 * d * d, 40, 0.4),
      bi = randn(3 * d, 41, 0.1),
      wo = randn(d * d, 42, 0.4),
      bo = randn(d, 43, 0.1);
    const lw = randn(d, 44, 0.2).map((v) => 1 + v),
      lb = randn(d, 45, 0.1);
    const x = g.input('x', ['batch', 'time', d]);
    g.output(
      selfAttention(
        g,
        x,
        'sa',
        { inProjWeight: wi, inProjBias: bi, outProjWeight: wo, outProjBias: bo },
        d,
        H,
      ),
      'attn',
      ['batch', 'time', d],
    );
    g.output(layerNorm(g, x, 'ln', lw, lb, 1e-5), 'ln', ['batch', 'time', d]);
    g.output(linear(g, x, 'lin', { data: wo, shape: [d, d] }, bo), 'lin', ['batch', 'time', d]);
    const x2 = g.input('x2', ['batch', d]);
    const wt = new Float32Array(d * d);
    g.output(
      g.op('Gemm', [x2, g.initializer('gemm.w', wo, [d, d]), g.initializer('gemm.b', bo, [d])], {
        transB: 1,
      }),
      'gemm',
      ['batch', d],
    );
    g.output(g.op('Softmax', [x2], { axis: -1 }), 'softmax', ['batch', d]);
    g.output(g.op('LogSoftmax', [x2], { axis: 1 }), 'logsoftmax', ['batch', d]);
    void wt;
    out.push({
      name: 'transformer_ops',
      g,
      runs: [
        [1, 1],
        [2, 5],
      ].map(([B, T], i) => {
        const xd = randn(B * T * d, 50 + i);
        const x2d = randn(B * d, 60 + i, 3);
        const ln = new Float32Array(xd.length);
        for (let r = 0; r < B * T; r++) {
          const row = xd.slice(r * d, (r + 1) * d);
          const m = row.reduce((a, v) => a + v, 0) / d;
          const v = row.reduce((a, u) => a + (u - m) ** 2, 0) / d;
          for (let j = 0; j < d; j++)
            ln[r * d + j] = ((row[j] - m) / Math.sqrt(v + 1e-5)) * lw[j] + lb[j];
        }
        return {
          feeds: { x: { data: xd, dims: [B, T, d] }, x2: { data: x2d, dims: [B, d] } },
          expect: {
            attn: attentionRef(xd, B, T, d, H, wi, bi, wo, bo),
            ln,
            lin: matmulT(xd, B * T, wo, d, d, bo),
            gemm: matmulT(x2d, B, wo, d, d, bo),
            softmax: softmaxRows(x2d, d),
            logsoftmax: softmaxRows(x2d, d, true),
          },
        };
      }),
    });
  }
  return out;
}

test('hand-built graphs of every network op pass the ONNX checker and match references in onnxruntime', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const all = cases();
    const files = all.map((c) => {
      const f = path.join(dir, `${c.name}.onnx`);
      writeFileSync(f, serializeModel(c.g, { metadata: { case: c.name } }));
      return f;
    });
    const checked = onnxCheck(files);
    const seenOps = new Set<string>();
    for (const f of files) {
      assert.equal(checked[f].ok, true, `${path.basename(f)}: ${checked[f].error}`);
      assert.equal(checked[f].opset, 17);
      assert.equal(checked[f].ir_version, 8);
      checked[f].ops!.forEach((o) => seenOps.add(o));
    }
    for (const op of [
      'Conv',
      'BatchNormalization',
      'Sigmoid',
      'Mul',
      'Relu',
      'PRelu',
      'GlobalAveragePool',
      'ReduceMean',
      'Split',
      'Reshape',
      'Transpose',
      'MatMul',
      'Gemm',
      'LayerNormalization',
      'Softmax',
      'LogSoftmax',
      'Pad',
    ]) {
      assert.ok(seenOps.has(op), `op ${op} exercised`);
    }
    for (const [i, c] of all.entries()) {
      const s = await ort.InferenceSession.create(files[i]);
      for (const run of c.runs) {
        const feeds = Object.fromEntries(
          Object.entries(run.feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]),
        );
        const res = await s.run(feeds);
        for (const [k, want] of Object.entries(run.expect)) {
          const got = res[k].data as Float32Array;
          const d = maxAbsDiff(got, want);
          assert.ok(
            d < (run.tol ?? 1e-4),
            `${c.name}.${k} (${run.feeds[Object.keys(run.feeds)[0]].dims}): max |diff| ${d}`,
          );
        }
      }
      await s.release();
    }
  } finally {
    cleanup();
  }
});

test('protobuf round trip: metadata and opset read back; truncation is detected', () => {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', ['batch', 3]);
  g.output(g.op('Relu', [x]), 'y', ['batch', 3]);
  const bytes = serializeModel(g, {
    metadata: { 'eflip.labels': '["a","b","ü"]', big: 'x'.repeat(300) },
    producerVersion: '1.2.3',
  });
  const s = readOnnxSummary(bytes);
  assert.equal(s.opset, 17);
  assert.equal(s.irVersion, 8);
  assert.equal(s.producerVersion, '1.2.3');
  assert.equal(s.metadata['eflip.labels'], '["a","b","ü"]');
  assert.equal(s.metadata.big.length, 300);
  assert.throws(
    () => readOnnxSummary(bytes.subarray(0, bytes.length - 5), 'cut.onnx'),
    /cut\.onnx: not a valid ONNX model/,
  );
  assert.throws(
    () =>
      readOnnxSummary(new TextEncoder().encode('hello, this is not a model at all'), 'text.onnx'),
    /text\.onnx/,
  );
});
