// Bounds every tensor of a graph from a stranger before onnxruntime allocates it: shapes are
// inferred node by node (with the small integer values that decide shapes: Shape → Gather →
// Concat → Reshape, Range, Slice), for one clip of 3 frames: each tensor must stay under
// MAX_TENSOR_ELEMENTS and all of them together under MAX_TOTAL_ELEMENTS. A graph that doubles a tensor by concatenating it with itself
// again and again, or reshapes into a huge shape, is refused here; its size per frame is fixed,
// so a longer clip only scales it linearly. Only the operators graph_check.ts admits are known.
import { OnnxFileError } from './onnx_reader.js';

/** One graph node as graph_check.ts parses it. */
export interface Node {
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** integer attributes (pads, strides, dilations, kernel_shape, ...) */
  attrs: Map<string, number[]>;
}

/** A graph input's dims: numbers, or symbolic names ('batch', 'time', ...). */
export interface GraphInput {
  name: string;
  dims: (number | string)[];
}

export interface ParsedGraph {
  nodes: Node[];
  inputs: GraphInput[];
  /** initializers' and Constants' dims */
  dims: Map<string, number[]>;
  /** small integer/float constants' values */
  values: Map<string, number[]>;
}

/** Symbolic dims for the check: batch 1, every other (time) 3 frames. */
const SYMBOLIC: Record<string, number> = { batch: 1 };
const SYMBOLIC_DEFAULT = 3;
/** One tensor of a 3-frame clip (the T network's largest at 88×88 crops: 24 × 44 × 44 × 3;
 *  at eflip's largest crop, 1024 × 1024, a stem output of 64 channels is 2^26). */
export const MAX_TENSOR_ELEMENTS = 2 ** 27;
/** All tensors of a 3-frame clip together (onnxruntime reuses buffers: an upper bound). */
export const MAX_TOTAL_ELEMENTS = 2 ** 30;
/** Values followed through shape arithmetic (a shape vector is short). */
const MAX_VALUES = 16;

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

export function boundTensorSizes(g: ParsedGraph, source: string): void {
  const shapes = new Map<string, number[]>(g.dims);
  const values = new Map<string, number[]>(g.values);
  for (const i of g.inputs)
    if (!shapes.has(i.name))
      shapes.set(
        i.name,
        i.dims.map((d) => (typeof d === 'number' ? d : (SYMBOLIC[d] ?? SYMBOLIC_DEFAULT))),
      );
  let total = 0;
  for (const n of g.nodes) {
    const fail = (why: string): never => {
      throw new OnnxFileError(
        `${source}: cannot bound the graph's memory at ${n.op} ${JSON.stringify(n.outputs[0] ?? '').slice(0, 60)}: ${why}`,
      );
    };
    const ins = n.inputs.map((x) => {
      if (x === '') return undefined;
      const s = shapes.get(x);
      if (!s) fail(`its input ${JSON.stringify(x).slice(0, 60)} is used before it is computed`);
      return s;
    });
    const val = (i: number): number[] => {
      const v = values.get(n.inputs[i] ?? '');
      if (!v) fail(`input ${i} decides a size but is not a constant`);
      return v!;
    };
    const out = infer(n, ins as (number[] | undefined)[], val, values, fail);
    n.outputs.forEach((o, i) => {
      const s = out.shapes[i];
      if (!s) return;
      if (s.some((d) => !Number.isInteger(d) || d < 0)) fail(`shape [${s.join(', ')}]`);
      const size = prod(s);
      if (!(size <= MAX_TENSOR_ELEMENTS))
        fail(
          `a tensor of ${size.toExponential(2)} values for a 3-frame clip (at most ${MAX_TENSOR_ELEMENTS})`,
        );
      total += size;
      if (!(total <= MAX_TOTAL_ELEMENTS))
        fail(
          `its tensors reach ${total.toExponential(2)} values for a 3-frame clip (at most ${MAX_TOTAL_ELEMENTS})`,
        );
      shapes.set(o, s);
      const v = out.values?.[i];
      if (v && v.length <= MAX_VALUES) values.set(o, v);
    });
  }
}

interface Inferred {
  shapes: number[][];
  values?: (number[] | undefined)[];
}

const axisOf = (a: number, rank: number) => (a < 0 ? a + rank : a);

function broadcast(a: number[], b: number[], fail: (w: string) => never): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1,
      y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) fail(`shapes [${a.join(', ')}] and [${b.join(', ')}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function elementwise(op: string, a?: number[], b?: number[]): number[] | undefined {
  if (!a || !b || (a.length !== b.length && a.length !== 1 && b.length !== 1)) return undefined;
  const n = Math.max(a.length, b.length);
  const at = (v: number[], i: number) => v[v.length === 1 ? 0 : i];
  const f =
    op === 'Add'
      ? (x: number, y: number) => x + y
      : op === 'Sub'
        ? (x: number, y: number) => x - y
        : op === 'Mul'
          ? (x: number, y: number) => x * y
          : undefined;
  return f ? Array.from({ length: n }, (_, i) => f(at(a, i), at(b, i))) : undefined;
}

/** One window dim: floor((in + pads − dilated kernel) / stride) + 1. */
function windowed(
  x: number[],
  kernel: number[],
  attrs: Map<string, number[]>,
  fail: (w: string) => never,
): number[] {
  const nd = kernel.length;
  const pads = attrs.get('pads') ?? Array(2 * nd).fill(0);
  const strides = attrs.get('strides') ?? Array(nd).fill(1);
  const dil = attrs.get('dilations') ?? Array(nd).fill(1);
  return kernel.map((k, i) => {
    const span = (k - 1) * dil[i] + 1;
    const v = Math.floor((x[2 + i] + pads[i] + pads[nd + i] - span) / strides[i]) + 1;
    if (!(v >= 0) || !(strides[i] >= 1)) fail(`window ${k} over ${x[2 + i]}`);
    return v;
  });
}

function infer(
  n: Node,
  ins: (number[] | undefined)[],
  val: (i: number) => number[],
  values: Map<string, number[]>,
  fail: (w: string) => never,
): Inferred {
  const x = ins[0] ?? [];
  const a = n.attrs;
  const one = (s: number[], v?: number[]): Inferred => ({ shapes: [s], values: [v] });
  switch (n.op) {
    case 'Constant':
      return { shapes: [] }; // dims and values read with the node
    case 'Relu':
    case 'Sigmoid':
    case 'Identity':
    case 'Softmax':
    case 'LogSoftmax':
    case 'QuantizeLinear':
    case 'DequantizeLinear':
      return one(x, values.get(n.inputs[0]));
    case 'LayerNormalization':
      return { shapes: [x] };
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'PRelu':
      return one(
        broadcast(x, ins[1] ?? [], fail),
        elementwise(n.op, values.get(n.inputs[0]), values.get(n.inputs[1])),
      );
    case 'Shape':
      return one([x.length], [...x]);
    case 'Gather': {
      const ax = axisOf(a.get('axis')?.[0] ?? 0, x.length);
      const idx = ins[1] ?? [];
      const dv = values.get(n.inputs[0]);
      const iv = values.get(n.inputs[1]);
      const v =
        dv && iv && x.length === 1 ? iv.map((i) => dv[i < 0 ? i + dv.length : i]) : undefined;
      if (v?.some((e) => e === undefined)) fail('index out of range');
      return one([...x.slice(0, ax), ...idx, ...x.slice(ax + 1)], v);
    }
    case 'Unsqueeze': {
      const axes = val(1);
      const r = x.length + axes.length;
      const at = new Set(axes.map((e) => axisOf(e, r)));
      const s: number[] = [];
      for (let i = 0, j = 0; i < r; i++) s.push(at.has(i) ? 1 : x[j++]);
      return one(s, values.get(n.inputs[0]));
    }
    case 'Concat': {
      const ax = axisOf(a.get('axis')?.[0] ?? 0, x.length);
      const s = [...x];
      s[ax] = ins.reduce((t, y) => t + (y?.[ax] ?? 0), 0);
      const vs = n.inputs.map((i) => values.get(i));
      return one(s, vs.every((v) => v) ? vs.flatMap((v) => v!) : undefined);
    }
    case 'Range': {
      const [start, limit, delta] = [val(0)[0], val(1)[0], val(2)[0]];
      if (!delta) fail('delta 0');
      const len = Math.max(0, Math.ceil((limit - start) / delta));
      return one(
        [len],
        len <= MAX_VALUES ? Array.from({ length: len }, (_, i) => start + i * delta) : undefined,
      );
    }
    case 'Reshape': {
      const spec = val(1);
      const known = spec.map((d, i) => (d === 0 ? x[i] : d));
      const rest = prod(known.filter((d) => d !== -1));
      const s = known.map((d) => (d === -1 ? (rest ? prod(x) / rest : 0) : d));
      if (prod(s) !== prod(x)) fail(`[${x.join(', ')}] into [${spec.join(', ')}]`);
      return one(s, values.get(n.inputs[0]));
    }
    case 'Transpose': {
      const perm = a.get('perm') ?? x.map((_, i) => x.length - 1 - i);
      return one(perm.map((p) => x[p]));
    }
    case 'Conv': {
      const w = ins[1] ?? [];
      return one([x[0], w[0], ...windowed(x, w.slice(2), a, fail)]);
    }
    case 'MaxPool':
      return one([x[0], x[1], ...windowed(x, a.get('kernel_shape') ?? [], a, fail)]);
    case 'GlobalAveragePool':
      return one([x[0], x[1], ...x.slice(2).map(() => 1)]);
    case 'MatMul': {
      const b = ins[1] ?? [];
      const a2 = x.length === 1 ? [1, x[0]] : x;
      const b2 = b.length === 1 ? [b[0], 1] : b;
      if (a2[a2.length - 1] !== b2[b2.length - 2]) fail(`[${x.join(', ')}] × [${b.join(', ')}]`);
      const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2), fail);
      const s = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
      if (x.length === 1) s.splice(s.length - 2, 1);
      if (b.length === 1) s.pop();
      return one(s);
    }
    case 'Flatten': {
      const ax = axisOf(a.get('axis')?.[0] ?? 1, x.length);
      return one([prod(x.slice(0, ax)), prod(x.slice(ax))]);
    }
    case 'ReduceMean': {
      const axes = new Set((a.get('axes') ?? x.map((_, i) => i)).map((e) => axisOf(e, x.length)));
      const keep = (a.get('keepdims')?.[0] ?? 1) !== 0;
      return one(x.flatMap((d, i) => (axes.has(i) ? (keep ? [1] : []) : [d])));
    }
    case 'Split': {
      const ax = axisOf(a.get('axis')?.[0] ?? 0, x.length);
      const parts =
        n.inputs[1] !== undefined && n.inputs[1] !== ''
          ? val(1)
          : (a.get('split') ?? Array(n.outputs.length).fill(Math.ceil(x[ax] / n.outputs.length)));
      if (parts.length !== n.outputs.length) fail('split sizes do not match the outputs');
      return { shapes: parts.map((p) => x.map((d, i) => (i === ax ? p : d))) };
    }
    case 'Slice': {
      const starts = val(1),
        ends = val(2);
      const axes = n.inputs[3] ? val(3) : starts.map((_, i) => i);
      const steps = n.inputs[4] ? val(4) : starts.map(() => 1);
      const s = [...x];
      axes.forEach((axRaw, i) => {
        const ax = axisOf(axRaw, x.length);
        const d = x[ax];
        const step = steps[i];
        if (!step) fail('step 0');
        const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
        let st = starts[i] < 0 ? starts[i] + d : starts[i];
        let en = ends[i] < 0 ? ends[i] + d : ends[i];
        st = step > 0 ? clamp(st, 0, d) : clamp(st, 0, d - 1);
        en = step > 0 ? clamp(en, 0, d) : clamp(en, -1, d - 1);
        s[ax] = Math.max(0, Math.ceil((en - st) / step));
      });
      const v = values.get(n.inputs[0]);
      const sv =
        v && x.length === 1 && steps[0] === 1
          ? v.slice(axisOf(starts[0], v.length), s[0] + axisOf(starts[0], v.length))
          : undefined;
      return one(s, sv);
    }
    case 'Resize': {
      const scales = val(2);
      return one(x.map((d, i) => Math.floor(d * scales[i])));
    }
    case 'Pad': {
      const pads = val(1);
      return one(x.map((d, i) => d + pads[i] + pads[x.length + i]));
    }
    default:
      return fail('an operator this check does not know');
  }
}
