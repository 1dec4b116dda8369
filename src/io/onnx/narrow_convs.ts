// int8 graphs: a quantized conv with fewer than 16 output channels, followed by a SiLU or ReLU
// and one more quantized conv, is given zero output channels up to 16 (and the next conv zero
// weights on them). The extra channels carry exact zeros (bias 0, SiLU(0) = ReLU(0) = 0, zero
// weights in the next conv), so every value of the real channels is unchanged: onnxruntime's
// outputs are bit-identical.
//
// Why: onnxruntime's CPU QLinearConv (1.22, x86) runs a conv with fewer than 16 output channels
// on a much slower path. Measured per kernel (15 images, 1 thread, symmetric int8 weights):
// 3×3 8→8 at 44×44 0.86 ms, 8→12 0.89, 8→16 0.40 (twice the MACs); 1×1 16→8 0.17, 16→16 0.10.
// In T that is the first trunk block's 3×3 conv (8 channels): widened, T's int8 front-end takes
// 10.4 instead of 11.0 ms per 15 images on one thread (docs/inference.md "int8"); onnxruntime-web
// (wasm) is unchanged (71.3 vs 71.1 ms CPU). float32 gains nothing from it, so only the int8
// pass widens (src/io/onnx/quantize.ts).
import { attrInt, DataType } from './onnx_proto.js';
import type { ModelProto, NodeProto, TensorProto } from './onnx_proto.js';

/** Output channels below which onnxruntime's int8 conv is slow (see above). */
export const MIN_INT8_CONV_CHANNELS = 16;

/** A float32 tensor with `axis` zero-padded to `size`. */
function padAxis(t: TensorProto, axis: number, size: number): TensorProto {
  const src = new Float32Array(new Uint8Array(t.rawData).buffer); // aligned copy
  const dims = [...t.dims];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(outer * size * inner);
  for (let o = 0; o < outer; o++)
    out.set(src.subarray(o * dims[axis] * inner, (o + 1) * dims[axis] * inner), o * size * inner);
  dims[axis] = size;
  return { ...t, dims, rawData: new Uint8Array(out.buffer) };
}

/** The model with narrow convs widened (see above); `quantized` says which convs the int8 pass
 *  quantizes. Returns the names of the convs widened. Nodes are the same objects. */
export function widenNarrowConvs(
  m: ModelProto,
  quantized: (conv: NodeProto) => boolean,
): { model: ModelProto; widened: string[] } {
  const g = m.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const readers = new Map<string, NodeProto[]>();
  const uses = new Map<string, number>();
  for (const n of g.nodes)
    for (const i of n.inputs) {
      readers.set(i, [...(readers.get(i) ?? []), n]);
      uses.set(i, (uses.get(i) ?? 0) + 1);
    }
  const outputs = new Set(g.outputs.map((o) => o.name));
  const only = (t: string) => (outputs.has(t) ? [] : (readers.get(t) ?? []));
  const ownFloat = (name: string | undefined) => {
    const t = name === undefined ? undefined : inits.get(name);
    return t && t.dataType === DataType.FLOAT && uses.get(t.name) === 1 ? t : undefined;
  };
  const denseConv = (n: NodeProto | undefined) =>
    n?.opType === 'Conv' && attrInt(n, 'group', 1) === 1 && quantized(n);

  /** x's activation, when x feeds nothing else: ReLU(x) or x·σ(x) (SiLU) → its output tensor */
  const activated = (x: string): string | null => {
    const rs = only(x);
    if (rs.length === 1 && rs[0].opType === 'Relu') return rs[0].outputs[0];
    const sig = rs.find((n) => n.opType === 'Sigmoid' && n.inputs[0] === x);
    const mul = rs.find((n) => n.opType === 'Mul');
    if (rs.length !== 2 || !sig || !mul) return null;
    const s = sig.outputs[0];
    if (only(s).length !== 1 || only(s)[0] !== mul) return null;
    if (mul.inputs.length !== 2 || !mul.inputs.includes(x) || !mul.inputs.includes(s)) return null;
    return mul.outputs[0];
  };

  const replace = new Map<string, TensorProto>();
  const widened: string[] = [];
  for (const a of g.nodes) {
    if (!denseConv(a)) continue;
    const w = ownFloat(a.inputs[1]);
    const bias = a.inputs[2] ? ownFloat(a.inputs[2]) : undefined;
    if (!w || w.dims.length < 3 || w.dims[0] >= MIN_INT8_CONV_CHANNELS) continue;
    if (a.inputs[2] && !bias) continue;
    const act = activated(a.outputs[0]);
    if (act === null) continue;
    const next = only(act);
    const b = next[0];
    const wb = ownFloat(b?.inputs[1]);
    if (next.length !== 1 || !denseConv(b) || b.inputs[0] !== act || !wb) continue;
    if (wb.dims[1] !== w.dims[0]) continue;
    replace.set(w.name, padAxis(w, 0, MIN_INT8_CONV_CHANNELS));
    if (bias) replace.set(bias.name, padAxis(bias, 0, MIN_INT8_CONV_CHANNELS));
    replace.set(wb.name, padAxis(wb, 1, MIN_INT8_CONV_CHANNELS));
    widened.push(a.name ?? a.outputs[0]);
  }
  if (!widened.length) return { model: m, widened };
  return {
    model: {
      ...m,
      graph: { ...g, initializers: g.initializers.map((t) => replace.get(t.name) ?? t) },
    },
    widened,
  };
}
