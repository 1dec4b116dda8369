// What a model file from a stranger may hold before onnxruntime sees it. onnxruntime runs any
// valid graph: it reads "external data" from any path the file names (a graph can copy a
// file's bytes into its output), unrolls Loops, and folds constants at session creation (a
// 1.7 KB ConstantOfShape asked for 18 GB). eflip's exporter writes one kind of graph, so a
// file must look like one: self-contained tensors, no subgraphs or local functions, only the
// operators eflip's graphs use, the stem's time Range computed from the input's shape, and
// paddings and Resize scales no larger than eflip's networks use, and (graph_shapes.ts) every
// tensor's size bounded by shape inference.
import { OnnxFileError, Reader } from './onnx_reader.js';
import { boundTensorSizes, type GraphInput, type Node } from './graph_shapes.js';

export type { Node } from './graph_shapes.js';

/** Every operator eflip's exports use (float and int8, full graph and streaming halves). */
export const EFLIP_OPS: ReadonlySet<string> = new Set([
  'Add',
  'Concat',
  'Conv',
  'DequantizeLinear',
  'Flatten',
  'Gather',
  'GlobalAveragePool',
  'Identity',
  'LayerNormalization',
  'LogSoftmax',
  'MatMul',
  'MaxPool',
  'Mul',
  'PRelu',
  'Pad',
  'QuantizeLinear',
  'Range',
  'ReduceMean',
  'Relu',
  'Reshape',
  'Resize',
  'Shape',
  'Sigmoid',
  'Slice',
  'Softmax',
  'Split',
  'Sub',
  'Transpose',
  'Unsqueeze',
]);

const utf8 = new TextDecoder('utf-8');

/** A signed int64 varint (negative values take 10 bytes: two's complement), as a number. */
function svarint(r: Reader): number {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= r.end) r.fail('unexpected end of data');
    const byte = r.b[r.pos++];
    v |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (!(byte & 0x80)) return Number(BigInt.asIntN(64, v));
  }
  return r.fail('malformed varint');
}
const clip = (s: string) => JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);

/** The small (≤ 16 values) int64 and float constants' values, by name. */
type Ints = Map<string, number[]>;

/** A TensorProto: refused when its data lives outside the file; its name and, for a small
 *  int64 tensor, its values. */
function readTensor(
  b: Uint8Array,
  source: string,
): { name: string; dims: number[]; ints?: number[] } {
  const r = new Reader(b, b.length, source);
  let name = '';
  let type = 0;
  let raw: Uint8Array | null = null;
  const int64s: number[] = [];
  const floats: number[] = [];
  const dims: number[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    const f = tag >>> 3,
      w = tag & 7;
    if (f === 13 && w === 2) {
      let location = '';
      const e = r.bytes();
      const er = new Reader(e, e.length, source);
      while (er.pos < er.end) {
        const t = er.varint();
        if (t >>> 3 === 2 && (t & 7) === 2) location = utf8.decode(er.bytes());
        else er.skip(t & 7);
      }
      throw new OnnxFileError(
        `${source}: a tensor's data is outside the file (external data ${clip(location)}); eflip loads self-contained models only (as \`eflip export\` writes them)`,
      );
    } else if (f === 14 && w === 0) {
      if (r.varint() !== 0)
        throw new OnnxFileError(
          `${source}: a tensor's data is outside the file (data_location EXTERNAL); eflip loads self-contained models only`,
        );
    } else if (f === 1 && w === 0) dims.push(r.varint());
    else if (f === 1 && w === 2) {
      const p = r.bytes();
      const pr = new Reader(p, p.length, source);
      while (pr.pos < pr.end) dims.push(pr.varint());
    } else if (f === 2 && w === 0) type = r.varint();
    else if (f === 8 && w === 2) name = utf8.decode(r.bytes());
    else if (f === 9 && w === 2) raw = r.bytes();
    else if (f === 7 && w === 2) {
      const p = r.bytes();
      const pr = new Reader(p, p.length, source);
      while (pr.pos < pr.end && int64s.length <= 16) int64s.push(svarint(pr));
    } else if (f === 4 && w === 2) {
      const p = r.bytes();
      if (p.length <= 64) {
        const dv = new DataView(p.buffer, p.byteOffset, p.length);
        for (let i = 0; i + 4 <= p.length; i += 4) floats.push(dv.getFloat32(i, true));
      }
    } else if (f === 0) r.fail('field number 0');
    else r.skip(w);
  }
  const n = dims.reduce((a, d) => a * d, 1);
  if ((type !== 7 && type !== 1) || n > 16) return { name, dims };
  const size = type === 7 ? 8 : 4;
  if (raw && raw.length === size * n) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
    const at = (i: number) =>
      type === 7 ? Number(dv.getBigInt64(8 * i, true)) : dv.getFloat32(4 * i, true);
    return { name, dims, ints: Array.from({ length: n }, (_, i) => at(i)) };
  }
  const listed = type === 7 ? int64s : floats;
  return !raw && listed.length === n ? { name, dims, ints: listed } : { name, dims };
}

function readAttribute(b: Uint8Array, source: string, n: Node): Uint8Array | null {
  const op = n.op;
  const r = new Reader(b, b.length, source);
  let tensor: Uint8Array | null = null;
  let name = '';
  const ints: number[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    const f = tag >>> 3,
      w = tag & 7;
    if ((f === 6 || f === 11) && w === 2)
      throw new OnnxFileError(
        `${source}: operator ${clip(op)} holds a subgraph; eflip's graphs have no control flow`,
      );
    if ((f === 22 || f === 23) && w === 2)
      throw new OnnxFileError(`${source}: a sparse tensor attribute; eflip's graphs have none`);
    if (f === 5 && w === 2) tensor = r.bytes();
    else if (f === 1 && w === 2) name = utf8.decode(r.bytes());
    else if ((f === 3 || f === 8) && w === 0) ints.push(svarint(r));
    else if (f === 8 && w === 2) {
      const p = r.bytes();
      const pr = new Reader(p, p.length, source);
      while (pr.pos < pr.end) ints.push(svarint(pr));
    } else if (f === 10 && w === 2)
      readTensor(r.bytes(), source); // refuses external data
    else if (f === 0) r.fail('field number 0');
    else r.skip(w);
  }
  if (ints.length) n.attrs.set(name, ints);
  return tensor;
}

function readNode(b: Uint8Array, source: string, ints: Ints, dims: Map<string, number[]>): Node {
  const r = new Reader(b, b.length, source);
  const n: Node = { op: '', domain: '', inputs: [], outputs: [], attrs: new Map() };
  const attributes: Uint8Array[] = [];
  const tensors: Uint8Array[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    const f = tag >>> 3,
      w = tag & 7;
    if (f === 1 && w === 2) n.inputs.push(utf8.decode(r.bytes()));
    else if (f === 2 && w === 2) n.outputs.push(utf8.decode(r.bytes()));
    else if (f === 4 && w === 2) n.op = utf8.decode(r.bytes());
    else if (f === 7 && w === 2) n.domain = utf8.decode(r.bytes());
    else if (f === 5 && w === 2) attributes.push(r.bytes());
    else if (f === 0) r.fail('field number 0');
    else r.skip(w);
  }
  for (const a of attributes) {
    // after the loop: op_type may follow the attributes on the wire
    const t = readAttribute(a, source, n);
    if (t) tensors.push(t);
  }
  // a Constant's value: kept like an initializer's, under the node's output
  for (const t of tensors) {
    const v = readTensor(t, source);
    if (n.op !== 'Constant' || !n.outputs[0]) continue;
    dims.set(n.outputs[0], v.dims);
    if (v.ints) ints.set(n.outputs[0], v.ints);
  }
  return n;
}

/**
 * Check a ModelProto's graph as above; throws OnnxFileError naming the first problem. Returns
 * the operators used (for tests).
 */
export function checkGraph(
  bytes: Uint8Array,
  source: string,
  limits: GraphLimits = { maxTimePad: 1 },
): Set<string> {
  const r = new Reader(bytes, bytes.length, source);
  // a field given twice is merged by protobuf readers (onnxruntime's too): every graph field
  // counts, read as one message
  const parts: Uint8Array[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    const f = tag >>> 3,
      w = tag & 7;
    if (f === 7 && w === 2) parts.push(r.bytes());
    else if (f === 25 && w === 2)
      throw new OnnxFileError(`${source}: the model defines its own functions; eflip's have none`);
    else if (f === 0) r.fail('field number 0');
    else r.skip(w);
  }
  if (!parts.length) throw new OnnxFileError(`${source}: not a valid ONNX model (no graph)`);
  const graph = parts.length === 1 ? parts[0] : concat(parts);
  const g = new Reader(graph, graph.length, source);
  const nodes: Node[] = [];
  const ints: Ints = new Map();
  const constants = new Set<string>();
  const dims = new Map<string, number[]>();
  const inputs: GraphInput[] = [];
  while (g.pos < g.end) {
    const tag = g.varint();
    const f = tag >>> 3,
      w = tag & 7;
    if (f === 1 && w === 2) nodes.push(readNode(g.bytes(), source, ints, dims));
    else if (f === 5 && w === 2) {
      const t = readTensor(g.bytes(), source);
      constants.add(t.name);
      dims.set(t.name, t.dims);
      if (t.ints) ints.set(t.name, t.ints);
    } else if (f === 11 && w === 2) inputs.push(readInput(g.bytes(), source));
    else if (f === 15 && w === 2)
      throw new OnnxFileError(`${source}: sparse initializers; eflip's graphs have none`);
    else if (f === 0) g.fail('field number 0');
    else g.skip(w);
  }
  const ops = new Set<string>();
  const producer = new Map<string, Node>();
  for (const n of nodes) {
    if (
      (n.domain !== '' && n.domain !== 'ai.onnx') ||
      (!EFLIP_OPS.has(n.op) && n.op !== 'Constant')
    )
      throw new OnnxFileError(
        `${source}: operator ${clip(n.domain ? `${n.domain}.${n.op}` : n.op)} is not one eflip's graphs use; eflip loads the graphs \`eflip export\` writes`,
      );
    ops.add(n.op);
    for (const o of n.outputs) producer.set(o, n);
    if (n.op === 'Constant') for (const o of n.outputs) constants.add(o);
  }
  for (const n of nodes) {
    if (n.op === 'Range') checkRange(n, producer, constants, ints, source);
    else if (n.op === 'Resize') checkResize(n, constants, ints, source);
    else if (n.op === 'Pad') checkPad(n, constants, ints, limits, source);
    else if (n.op === 'Conv' || n.op === 'MaxPool' || n.op === 'AveragePool')
      checkWindow(n, source);
  }
  boundTensorSizes({ nodes, inputs, dims, values: ints }, source);
  return ops;
}

/** A graph input's name and dims (a number, or a symbolic name such as 'batch' / 'time'). */
function readInput(b: Uint8Array, source: string): GraphInput {
  const out: GraphInput = { name: '', dims: [] };
  const r = new Reader(b, b.length, source);
  while (r.pos < r.end) {
    const tag = r.varint();
    const f = tag >>> 3,
      w = tag & 7;
    if (f === 1 && w === 2) out.name = utf8.decode(r.bytes());
    else if (f === 2 && w === 2) {
      // TypeProto.tensor_type (1) → TensorShapeProto (2) → Dimension (1): dim_value 1 | dim_param 2
      const type = r.bytes();
      const tr = new Reader(type, type.length, source);
      while (tr.pos < tr.end) {
        const t = tr.varint();
        if (t !== ((1 << 3) | 2)) {
          tr.skip(t & 7);
          continue;
        }
        const tensor = tr.bytes();
        const er = new Reader(tensor, tensor.length, source);
        while (er.pos < er.end) {
          const e = er.varint();
          if (e !== ((2 << 3) | 2)) {
            er.skip(e & 7);
            continue;
          }
          const shape = er.bytes();
          const sr = new Reader(shape, shape.length, source);
          while (sr.pos < sr.end) {
            const d = sr.varint();
            if (d !== ((1 << 3) | 2)) {
              sr.skip(d & 7);
              continue;
            }
            const dim = sr.bytes();
            const dr = new Reader(dim, dim.length, source);
            let v: number | string = '?';
            while (dr.pos < dr.end) {
              const x = dr.varint();
              if (x === ((1 << 3) | 0)) v = svarint(dr);
              else if (x === ((2 << 3) | 2)) v = utf8.decode(dr.bytes());
              else dr.skip(x & 7);
            }
            out.dims.push(v);
          }
        }
      }
    } else if (f === 0) r.fail('field number 0');
    else r.skip(w);
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What the network's config allows (model/config.ts): its TCN's 'same' padding in time. */
export interface GraphLimits {
  /** the largest Pad of the time axis: dilation 2^(levels − 1) · (kernel − 1) / 2 */
  maxTimePad: number;
}

/** GraphLimits of a network config's TCN (levels, kernel). */
export function graphLimits(tcn: { layers: number; kernel: number }): GraphLimits {
  return { maxTimePad: Math.max(1, (2 ** (tcn.layers - 1) * (tcn.kernel - 1)) / 2) };
}

/** Largest conv/pool padding, stride, dilation and window: eflip's kernels are ≤ 15 wide. */
const MAX_WINDOW = 16;

function checkWindow(n: Node, source: string): void {
  for (const key of ['pads', 'strides', 'dilations', 'kernel_shape']) {
    const v = n.attrs.get(key) ?? [];
    if (v.some((x) => x > MAX_WINDOW))
      throw new OnnxFileError(
        `${source}: a ${n.op} with ${key} ${JSON.stringify(v.slice(0, 8))} (eflip's are at most ${MAX_WINDOW})`,
      );
  }
}

function checkResize(n: Node, constants: Set<string>, ints: Ints, source: string): void {
  // the SE gate's nearest upsampling of a (N, C, 1, 1) gate to the block's H × W
  const scales = constants.has(n.inputs[2] ?? '') ? ints.get(n.inputs[2]) : undefined;
  const ok =
    (n.inputs[3] ?? '') === '' &&
    scales?.length === 4 &&
    scales[0] === 1 &&
    scales[1] === 1 &&
    scales.every((v) => v >= 1 && v <= 1024);
  if (!ok)
    throw new OnnxFileError(
      `${source}: a Resize that is not eflip's (constant scales 1, 1, ≤ 1024, ≤ 1 on a gate)`,
    );
}

function checkPad(
  n: Node,
  constants: Set<string>,
  ints: Ints,
  limits: GraphLimits,
  source: string,
): void {
  const pads = constants.has(n.inputs[1] ?? '') ? ints.get(n.inputs[1]) : undefined;
  if (!pads || pads.some((v) => v < 0 || v > limits.maxTimePad))
    throw new OnnxFileError(
      `${source}: a Pad of ${pads ? JSON.stringify(pads) : 'computed size'}; this network pads by at most ${limits.maxTimePad}`,
    );
}

/**
 * The stem's time taps (network_graph.ts): Range(k, T − (2 − k), 1) with T read from the
 * input's shape. A Range of constant bounds could ask for any length.
 */
function checkRange(
  n: Node,
  producer: Map<string, Node>,
  constants: Set<string>,
  ints: Ints,
  source: string,
): void {
  const small = (name: string | undefined, lo: number, hi: number) => {
    const v = name !== undefined && constants.has(name) ? ints.get(name) : undefined;
    return v !== undefined && v.length === 1 && v[0] >= lo && v[0] <= hi;
  };
  const fromShape = (name: string | undefined) => {
    const p = name === undefined ? undefined : producer.get(name);
    return p?.op === 'Gather' && producer.get(p.inputs[0])?.op === 'Shape';
  };
  const [start, limit, delta] = n.inputs;
  const l = limit === undefined ? undefined : producer.get(limit);
  const limitOk =
    fromShape(limit) || (l?.op === 'Sub' && fromShape(l.inputs[0]) && small(l.inputs[1], 0, 8));
  if (!small(start, 0, 8) || !small(delta, 1, 1) || !limitOk)
    throw new OnnxFileError(
      `${source}: a Range whose bounds are not the input's frame count (eflip's graphs count frames with it; another Range can ask for any length)`,
    );
}
