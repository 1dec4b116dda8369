// Static int8 quantization of an exported graph, as QDQ (QuantizeLinear/DequantizeLinear pairs)
// that onnxruntime's CPU provider fuses into quantized kernels (QLinearConv, MatMulIntegerToFloat):
//   weights      int8, symmetric, per output channel (DequantizeLinear with an axis), in the
//                7-bit range ±63 by default (WeightBits): see WEIGHT_BITS_WHY
//   activations  uint8, asymmetric, one scale per tensor from calibration ranges
//   Conv         DQ(x) · DQ(w) + DQ(bias int32, scale x_s·w_s) → Q → DQ   (→ QLinearConv)
//   MatMul       DQ(x) · DQ(w), fp32 out                                  (→ MatMulIntegerToFloat)
// Which layers are quantized is a per-kind choice (QuantKind), measured for speed and accuracy
// (docs/inference.md "int8"); everything else stays float32.
// Calibration: `calibrationModel` adds the tensors to observe as graph outputs; `RangeObserver`
// collects their ranges over calibration runs; `quantizeModel` rewrites the graph.
import {
  attrInt,
  DataType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx_proto.js';
import { widenNarrowConvs } from './narrow_convs.js';

/** Layer kinds, so a choice can keep some in float32. */
export type QuantKind =
  | 'stem' // the first conv (frames → trunk)
  | 'conv' // k×k dense convs of the trunk (fused MBConv)
  | 'pointwise' // 1×1 convs of the trunk
  | 'depthwise' // depthwise convs (group = channels)
  | 'se' // squeeze-excite 1×1 convs on pooled (N, C, 1, 1) tensors
  | 'linear' // MatMul by a weight: transformer projections/FFN, TCN time convs, classifier
  | 'elementwise'; // SiLU, SE gate, residual Add, pooling of the conv trunk (all-uint8 trunk)
// Not quantized in any choice: attention's activation × activation MatMuls and softmax,
// LayerNorm, GLU, PReLU, log-softmax (small, and float keeps them exact).

export const QUANT_KINDS: QuantKind[] = [
  'stem',
  'conv',
  'pointwise',
  'depthwise',
  'se',
  'linear',
  'elementwise',
];

/** Default choice, measured on the T network (onnxruntime 1.22 CPU, AVX-512 VNNI; CPU time per
 *  clip, 1 thread, relative to float32 = 1.00): everything 1.59×; the stem in float32 1.68× (its 3
 *  input planes make a poor int8 GEMM); also depthwise in float32 1.59×, SE in float32 1.68×,
 *  linear layers in float32 1.44–1.51×, SiLU alone in float32 1.40×, all trunk element-wise ops
 *  in float32 1.03× (a Q/DQ and a layout transpose around every conv). */
export const DEFAULT_QUANT_KINDS: QuantKind[] = QUANT_KINDS.filter((k) => k !== 'stem');

/** Weight range: 7 (±63, the default) or 8 bits (±127), stored as int8 either way.
 *  WEIGHT_BITS_WHY: x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) run onnxruntime's u8×s8
 *  products with `vpmaddubsw`, which adds two products into a saturating int16: with 8-bit
 *  weights, a0·w0 + a1·w1 reaches 2·255·127 = 64770 and is clipped at 32767, so the same int8
 *  file computes different (wrong) values there than on VNNI, ARM or wasm (measured: a 1×1 conv
 *  of all-255 activations and weights 127 gave 1044610 instead of 2072640 on an AVX2 EPYC). With
 *  ±63, 2·255·63 = 32130 cannot saturate, so every runtime computes the same thing
 *  (docs/inference.md "int8"). */
export type WeightBits = 7 | 8;
export const DEFAULT_WEIGHT_BITS: WeightBits = 7;

export class QuantizeError extends Error {
  override name = 'QuantizeError';
}

interface Target {
  node: NodeProto;
  kind: QuantKind;
  weight: TensorProto;
}

function floatsOf(t: TensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT)
    throw new QuantizeError(`weight ${t.name} is not float32 (data type ${t.dataType})`);
  const b = t.rawData;
  const copy = new Uint8Array(b); // aligned copy
  return new Float32Array(copy.buffer, 0, b.length / 4);
}

/** The nodes the pass may quantize, with their kind. */
export function quantTargets(m: ModelProto): Target[] {
  const g = m.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, NodeProto>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  const out: Target[] = [];
  let first = true;
  for (const n of g.nodes) {
    const w = inits.get(n.inputs[1] ?? '');
    if (n.opType === 'Conv' && w) {
      const group = attrInt(n, 'group', 1);
      const k = w.dims.slice(2).reduce((a, b) => a * b, 1);
      let kind: QuantKind;
      const src = producer.get(n.inputs[0]);
      if (first || graphInputs.has(n.inputs[0])) kind = 'stem';
      else if (group > 1) kind = 'depthwise';
      else if (/\.se\./.test(n.name ?? '') || src?.opType === 'GlobalAveragePool') kind = 'se';
      else if (k === 1) kind = 'pointwise';
      else kind = 'conv';
      first = false;
      out.push({ node: n, kind, weight: w });
    } else if (n.opType === 'MatMul') {
      if (w && w.dims.length === 2) out.push({ node: n, kind: 'linear', weight: w });
    }
  }
  return out;
}

/** The model with `tensors` added as float32 graph outputs (for a calibration session). */
export function calibrationModel(m: ModelProto, tensors: string[]): ModelProto {
  const have = new Set(m.graph.outputs.map((o) => o.name));
  return {
    ...m,
    graph: {
      ...m.graph,
      outputs: [
        ...m.graph.outputs,
        ...tensors
          .filter((t) => !have.has(t))
          .map((name) => ({ name, elemType: DataType.FLOAT, shape: [], noShape: true })),
      ],
    },
  };
}

export type CalibrationMethod = 'minmax' | 'percentile';

/** Running ranges per tensor: plain min/max, or a percentile of |x| over all values seen
 *  (from a 2048-bin histogram of |x| that re-bins when the maximum grows). */
export class RangeObserver {
  private min = new Map<string, number>();
  private max = new Map<string, number>();
  private hist = new Map<string, { counts: Float64Array; top: number; neg: boolean }>();
  constructor(
    readonly method: CalibrationMethod = 'minmax',
    readonly percentile = 99.999,
  ) {}

  observe(name: string, data: Float32Array): void {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi))
      throw new QuantizeError(`calibration: tensor ${name} has non-finite values`);
    this.min.set(name, Math.min(lo, this.min.get(name) ?? Infinity));
    this.max.set(name, Math.max(hi, this.max.get(name) ?? -Infinity));
    if (this.method !== 'percentile') return;
    const BINS = 2048;
    const absMax = Math.max(Math.abs(lo), Math.abs(hi), 1e-8);
    let h = this.hist.get(name);
    if (!h) h = { counts: new Float64Array(BINS), top: absMax, neg: lo < 0 };
    else if (absMax > h.top) {
      const counts = new Float64Array(BINS);
      for (let i = 0; i < BINS; i++)
        counts[Math.min(BINS - 1, Math.floor(((i + 0.5) * h.top) / BINS / (absMax / BINS)))] +=
          h.counts[i];
      h = { counts, top: absMax, neg: h.neg || lo < 0 };
    }
    h.neg ||= lo < 0;
    const scale = BINS / h.top;
    for (let i = 0; i < data.length; i++)
      h.counts[Math.min(BINS - 1, Math.floor(Math.abs(data[i]) * scale))]++;
    this.hist.set(name, h);
  }

  /** [min, max] per observed tensor (always containing 0). */
  ranges(): Map<string, [number, number]> {
    const out = new Map<string, [number, number]>();
    for (const [name, lo] of this.min) {
      let a = Math.min(lo, 0);
      let b = Math.max(this.max.get(name)!, 0);
      const h = this.hist.get(name);
      if (h) {
        const total = h.counts.reduce((s, c) => s + c, 0);
        const want = (total * this.percentile) / 100;
        let acc = 0,
          i = 0;
        for (; i < h.counts.length - 1; i++) if ((acc += h.counts[i]) >= want) break;
        const clip = ((i + 1) * h.top) / h.counts.length;
        a = Math.max(a, -clip);
        b = Math.min(b, clip);
      }
      out.set(name, [a, b]);
    }
    return out;
  }
}

function scalarTensor(name: string, dataType: number, bytes: Uint8Array): TensorProto {
  return { name, dataType: dataType as TensorProto['dataType'], dims: [], rawData: bytes };
}

function f32Bytes(xs: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(xs).buffer);
}

export interface QuantizeOptions {
  kinds?: QuantKind[];
  /** widen narrow convs for onnxruntime's fast int8 path (default true; ./narrow_convs.ts) */
  widen?: boolean;
  /** weight range (default DEFAULT_WEIGHT_BITS: 7 bits, exact on every CPU; see WeightBits) */
  weightBits?: WeightBits;
}

export interface QuantizeReport {
  /** quantized layers per kind */
  quantized: Partial<Record<QuantKind, number>>;
  /** layers kept float32 per kind */
  kept: Partial<Record<QuantKind, number>>;
  /** activation tensors given a QuantizeLinear/DequantizeLinear pair */
  activations: number;
  /** convs given zero output channels up to 16 for onnxruntime's fast int8 path
   *  (./narrow_convs.ts; outputs unchanged) */
  widened: string[];
  /** the weight range used (QuantizeOptions.weightBits or its default) */
  weightBits: WeightBits;
}

/** Element-wise and pooling ops of the conv trunk that run quantized (QLinearSigmoid, QLinearMul,
 *  QLinearAdd, QLinearGlobalAveragePool; MaxPool and nearest Resize on uint8), so the trunk stays
 *  uint8 from conv to conv instead of dequantizing around every SiLU, SE gate and residual. */
const TRUNK_ELEMENTWISE = new Set([
  'Sigmoid',
  'Mul',
  'Add',
  'GlobalAveragePool',
  'MaxPool',
  'Resize',
]);
/** ops whose output takes its input's quantization (data movement: no new values) */
const SAME_SCALE = new Set(['MaxPool', 'Resize']);

interface Plan {
  targets: Target[];
  /** quantized nodes (weight layers and trunk element-wise ops) */
  nodes: Set<NodeProto>;
  /** activation tensors to Q→DQ, in graph order */
  tensors: string[];
  /** tensor → the tensor whose quantization it shares */
  sameAs: Map<string, string>;
  /** nodes dropped from the quantized graph (their consumers read their input) */
  bypass: Set<NodeProto>;
}

function plan(m: ModelProto, kinds: QuantKind[]): Plan {
  const g = m.graph;
  const inits = new Set(g.initializers.map((t) => t.name));
  const graphOutputs = new Set(g.outputs.map((x) => x.name));
  const targets = quantTargets(m).filter((t) => kinds.includes(t.kind));
  const nodes = new Set<NodeProto>(targets.map((t) => t.node));
  const bypass = new Set<NodeProto>();
  if (kinds.includes('elementwise')) {
    // the trunk: every node up to the last conv over (N, C, H, W) maps
    let end = -1;
    g.nodes.forEach((n, i) => {
      const t = targets.find((x) => x.node === n);
      if (t && n.opType === 'Conv' && t.weight.dims.length === 4) end = i;
    });
    for (let i = 0; i <= end; i++) {
      const n = g.nodes[i];
      // the SE gate's nearest Resize (N, C, 1, 1) → (N, C, H, W) exists for the float NCHWc
      // layout; QLinearMul broadcasts, so the quantized graph multiplies by the gate directly
      if (
        n.opType === 'Resize' &&
        g.nodes.filter((c) => c.inputs.includes(n.outputs[0])).every((c) => c.opType === 'Mul')
      )
        bypass.add(n);
      else if (TRUNK_ELEMENTWISE.has(n.opType)) nodes.add(n);
    }
  }
  const tensors: string[] = [];
  const seen = new Set<string>();
  const sameAs = new Map<string, string>();
  const add = (t: string) => {
    if (t && !inits.has(t) && !graphOutputs.has(t) && !seen.has(t)) {
      seen.add(t);
      tensors.push(t);
    }
  };
  const skipped = new Map<string, string>();
  for (const n of bypass) skipped.set(n.outputs[0], n.inputs[0]);
  for (const n of g.nodes) {
    if (!nodes.has(n)) continue;
    const t = targets.find((x) => x.node === n);
    if (t) add(n.inputs[0]);
    else if (n.opType === 'Resize') add(n.inputs[0]);
    else for (const i of n.inputs) add(skipped.get(i) ?? i);
    add(n.outputs[0]);
    if (SAME_SCALE.has(n.opType)) sameAs.set(n.outputs[0], n.inputs[0]);
  }
  return { targets, nodes, tensors, sameAs, bypass };
}

/** Tensors whose ranges calibration must observe for `kinds`. */
export function calibrationTensors(m: ModelProto, kinds: QuantKind[]): string[] {
  const p = plan(m, kinds);
  return p.tensors.filter((t) => !p.sameAs.has(t));
}

/** The QDQ int8 model of `float` with activation `ranges` from calibration (see calibrationTensors). */
export function quantizeModel(
  float: ModelProto,
  ranges: Map<string, [number, number]>,
  o: QuantizeOptions = {},
): { model: ModelProto; report: QuantizeReport } {
  const kinds = o.kinds ?? DEFAULT_QUANT_KINDS;
  const bits = o.weightBits ?? DEFAULT_WEIGHT_BITS;
  if (bits !== 7 && bits !== 8)
    throw new QuantizeError(`weight bits must be 7 or 8, got ${String(bits)}`);
  const wMax = 2 ** (bits - 1) - 1; // 63 or 127
  // after calibration: the ranges are those of the graph as exported (widening adds only zeros).
  // Not the SE convs: on pooled (N, C, 1, 1) maps widening them measured no faster.
  let m = float;
  let widened: string[] = [];
  if (o.widen !== false) {
    const convs = new Set(
      quantTargets(float)
        .filter((t) => t.kind !== 'se' && kinds.includes(t.kind))
        .map((t) => t.node),
    );
    ({ model: m, widened } = widenNarrowConvs(float, (n) => convs.has(n)));
  }
  const g = m.graph;
  const p = plan(m, kinds);
  const rangeOf = (t: string): [number, number] => {
    const r = ranges.get(p.sameAs.get(t) ?? t);
    if (!r) throw new QuantizeError(`no calibration range for tensor '${t}'`);
    return r;
  };
  const report: QuantizeReport = {
    quantized: {},
    kept: {},
    activations: p.tensors.length,
    widened,
    weightBits: bits,
  };
  for (const t of quantTargets(m)) {
    const r = p.nodes.has(t.node) ? report.quantized : report.kept;
    r[t.kind] = (r[t.kind] ?? 0) + 1;
  }
  const elementwise = [...p.nodes].filter((n) => !p.targets.some((t) => t.node === n)).length;
  if (elementwise) report.quantized.elementwise = elementwise;

  const initializers = [...g.initializers];
  const replaced = new Set<string>(); // float weights now stored as int8
  const qParams = new Map<string, { scale: number; zp: number }>();
  const paramsOf = (name: string) => {
    const key = p.sameAs.get(name) ?? name;
    let q = qParams.get(key);
    if (!q) {
      const [lo, hi] = rangeOf(key);
      const scale = Math.max(hi - lo, 1e-8) / 255;
      const zp = Math.min(255, Math.max(0, Math.round(-lo / scale)));
      q = { scale, zp };
      qParams.set(key, q);
      initializers.push(scalarTensor(`${key}.q_scale`, DataType.FLOAT, f32Bytes([scale])));
      initializers.push(scalarTensor(`${key}.q_zero`, DataType.UINT8, Uint8Array.of(zp)));
    }
    return { ...q, key };
  };
  // Q→DQ of a tensor: its producer writes T.f32 and consumers read the DequantizeLinear's T
  // (a graph input keeps its name; its consumers read T.dq)
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  const rename = new Map<string, string>(); // graph input → its DQ output
  const qdqNodes = (t: string): NodeProto[] => {
    const { key } = paramsOf(t);
    const src = graphInputs.has(t) ? t : `${t}.f32`;
    const dst = graphInputs.has(t) ? `${t}.dq` : t;
    if (graphInputs.has(t)) rename.set(t, dst);
    return [
      {
        opType: 'QuantizeLinear',
        inputs: [src, `${key}.q_scale`, `${key}.q_zero`],
        outputs: [`${t}.q`],
        name: `${t}.q/QuantizeLinear`,
      },
      {
        opType: 'DequantizeLinear',
        inputs: [`${t}.q`, `${key}.q_scale`, `${key}.q_zero`],
        outputs: [dst],
        name: `${t}.dq/DequantizeLinear`,
      },
    ];
  };
  const qTensors = new Set(p.tensors);
  const out: NodeProto[] = [];
  for (const t of p.tensors) if (graphInputs.has(t)) out.push(...qdqNodes(t));

  for (const n of g.nodes) {
    if (p.bypass.has(n)) {
      rename.set(n.outputs[0], rename.get(n.inputs[0]) ?? n.inputs[0]);
      continue;
    }
    const t = p.targets.find((x) => x.node === n);
    let node: NodeProto = {
      ...n,
      inputs: n.inputs.map((i) => rename.get(i) ?? i),
      outputs: n.outputs.map((y) => (qTensors.has(y) ? `${y}.f32` : y)),
    };
    if (t) node = { ...node, inputs: quantizeWeights(t, node, paramsOf(n.inputs[0]).scale) };
    out.push(node);
    for (const y of n.outputs) if (qTensors.has(y)) out.push(...qdqNodes(y));
  }

  function quantizeWeights(t: Target, n: NodeProto, xs: number): string[] {
    // per-channel symmetric int8 weights in ±wMax: Conv (Cout, Cin/g, k...) axis 0; MatMul (in,
    // out) axis 1
    const w = floatsOf(t.weight);
    const isConv = n.opType === 'Conv';
    const cout = isConv ? t.weight.dims[0] : t.weight.dims[1];
    const per = w.length / cout;
    const wScale = new Float32Array(cout);
    const wq = new Int8Array(w.length);
    const idx = (c: number, j: number) => (isConv ? c * per + j : j * cout + c);
    for (let c = 0; c < cout; c++) {
      let a = 0;
      for (let j = 0; j < per; j++) a = Math.max(a, Math.abs(w[idx(c, j)]));
      const s = a > 0 ? a / wMax : 1;
      wScale[c] = s;
      for (let j = 0; j < per; j++) wq[idx(c, j)] = Math.round(w[idx(c, j)] / s);
    }
    const wn = t.weight.name;
    replaced.add(wn);
    initializers.push(
      {
        name: `${wn}.int8`,
        dataType: DataType.INT8,
        dims: [...t.weight.dims],
        rawData: new Uint8Array(wq.buffer),
      },
      { name: `${wn}.w_scale`, dataType: DataType.FLOAT, dims: [cout], rawData: f32Bytes(wScale) },
      {
        name: `${wn}.w_zero`,
        dataType: DataType.INT8,
        dims: [cout],
        rawData: new Uint8Array(cout),
      },
    );
    out.push({
      opType: 'DequantizeLinear',
      inputs: [`${wn}.int8`, `${wn}.w_scale`, `${wn}.w_zero`],
      outputs: [`${wn}.dq`],
      name: `${wn}.dq/DequantizeLinear`,
      attributes: [{ name: 'axis', value: { type: 'int', value: isConv ? 0 : 1 } }],
    });
    const inputs = [n.inputs[0], `${wn}.dq`];
    if (isConv && n.inputs[2]) {
      // bias as int32 with scale x_s·w_s[c] (what QLinearConv takes)
      const bt = g.initializers.find((i) => i.name === n.inputs[2]);
      if (!bt) throw new QuantizeError(`Conv ${n.name}: bias ${n.inputs[2]} is not a constant`);
      const b = floatsOf(bt);
      const bq = new Int32Array(cout);
      const bs = new Float32Array(cout);
      for (let c = 0; c < cout; c++) {
        bs[c] = xs * wScale[c];
        bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b[c] / bs[c])));
      }
      replaced.add(bt.name);
      initializers.push(
        {
          name: `${bt.name}.int32`,
          dataType: DataType.INT32,
          dims: [cout],
          rawData: new Uint8Array(bq.buffer),
        },
        {
          name: `${bt.name}.b_scale`,
          dataType: DataType.FLOAT,
          dims: [cout],
          rawData: f32Bytes(bs),
        },
        {
          name: `${bt.name}.b_zero`,
          dataType: DataType.INT32,
          dims: [cout],
          rawData: new Uint8Array(cout * 4),
        },
      );
      out.push({
        opType: 'DequantizeLinear',
        inputs: [`${bt.name}.int32`, `${bt.name}.b_scale`, `${bt.name}.b_zero`],
        outputs: [`${bt.name}.dq`],
        name: `${bt.name}.dq/DequantizeLinear`,
        attributes: [{ name: 'axis', value: { type: 'int', value: 0 } }],
      });
      inputs.push(`${bt.name}.dq`);
    }
    return inputs;
  }

  // drop float weights nothing reads any more
  const read = new Set<string>();
  for (const n of out) for (const i of n.inputs) read.add(i);
  return {
    model: {
      ...m,
      graph: {
        ...g,
        nodes: out,
        initializers: initializers.filter((i) => read.has(i.name)),
      },
      metadataProps: { ...m.metadataProps },
    },
    report,
  };
}
