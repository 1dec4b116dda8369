// A small ONNX graph builder: named inputs with symbolic dims ('batch', 'time'), initialisers
// from typed arrays, one-line node helpers with plain-JS attributes, and model assembly
// (opset 17, IR version 8) with metadata props.
import {
  DataType,
  encodeModel,
  type AttributeProto,
  type AttributeValue,
  type DataTypeCode,
  type Dim,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx_proto.js';

export const OPSET = 17;
export const IR_VERSION = 8;

/** Attribute values: integers → INT, other numbers → FLOAT, number[] → INTS, string → STRING,
 *  string[] → STRINGS. Use `attr.float(1)` / `attr.floats([...])` to force floats. */
export type AttrInput = number | string | number[] | string[] | AttributeValue;
export const attr = {
  float: (value: number): AttributeValue => ({ type: 'float', value }),
  floats: (value: number[]): AttributeValue => ({ type: 'floats', value }),
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  ints: (value: number[]): AttributeValue => ({ type: 'ints', value }),
};

function toAttribute(name: string, v: AttrInput): AttributeProto {
  if (typeof v === 'number')
    return {
      name,
      value: Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v },
    };
  if (typeof v === 'string') return { name, value: { type: 'string', value: v } };
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === 'string')
      return { name, value: { type: 'strings', value: v as string[] } };
    const nums = v as number[];
    if (nums.some((x) => !Number.isInteger(x)))
      throw new TypeError(`attribute ${name}: non-integer in ints; use attr.floats`);
    return { name, value: { type: 'ints', value: nums } };
  }
  return { name, value: v };
}

export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

function dataTypeOf(data: TensorData): DataTypeCode {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  return DataType.UINT8;
}

function littleEndianBytes(data: TensorData): Uint8Array {
  // x86/ARM hosts are little-endian; copy so later mutation of `data` cannot change the model
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private names = new Set<string>();
  private counters = new Map<string, number>();
  private constCache = new Map<string, string>();

  constructor(readonly name = 'eflip') {}

  /** A fresh value name with the given prefix (unique in the graph). */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name: string;
    do name = `${prefix}_${n++}`;
    while (this.names.has(name));
    this.counters.set(prefix, n);
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: duplicate value name '${name}'`);
    this.names.add(name);
    return name;
  }

  input(
    name: string,
    shape: Dim[],
    elemType: DataTypeCode = DataType.FLOAT,
    docString?: string,
  ): string {
    this.inputs.push({ name: this.claim(name), elemType, shape, docString });
    return name;
  }

  /** Declare `value` a graph output called `name` (an Identity renames it when needed). */
  output(
    value: string,
    name: string,
    shape: Dim[],
    elemType: DataTypeCode = DataType.FLOAT,
    docString?: string,
  ): string {
    if (value !== name) {
      this.claim(name);
      this.nodes.push({
        opType: 'Identity',
        inputs: [value],
        outputs: [name],
        name: `${name}/Identity`,
      });
    }
    this.outputs.push({ name, elemType, shape, docString });
    return name;
  }

  /** An initialiser (a weight). Returns its name. */
  initializer(name: string, data: TensorData, dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length)
      throw new Error(`ONNX initializer ${name}: ${data.length} values for dims [${dims}]`);
    this.initializers.push({
      name: this.claim(name),
      dataType: dataTypeOf(data),
      dims: [...dims],
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  /** An int64 constant (shapes, axes, split sizes; a scalar when dims = []), shared between
   *  identical uses. */
  int64s(values: number[], dims: number[] = [values.length], prefix = 'const_i64'): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.fresh(prefix);
      this.names.delete(name);
      this.initializer(name, BigInt64Array.from(values.map((v) => BigInt(v))), dims);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A float constant with the given dims (scalar when dims = []), shared between identical uses. */
  floats(values: number[], dims: number[] = [values.length], prefix = 'const_f32'): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.fresh(prefix);
      this.names.delete(name);
      this.initializer(name, Float32Array.from(values), dims);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** Append a node with one output; returns the output's name. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrInput> = {},
    hint?: string,
  ): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0];
  }

  /** Append a node with `nOutputs` outputs; returns their names. */
  opN(
    opType: string,
    inputs: string[],
    nOutputs: number,
    attrs: Record<string, AttrInput> = {},
    hint?: string,
  ): string[] {
    const base = hint ?? opType;
    const outputs = Array.from({ length: nOutputs }, () => this.fresh(base));
    this.nodes.push({
      opType,
      inputs,
      outputs,
      name: `${outputs[0]}/${opType}`,
      attributes: Object.entries(attrs)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => toAttribute(k, v)),
    });
    return outputs;
  }

  build(docString?: string): GraphProto {
    if (!this.outputs.length) throw new Error('ONNX graph has no outputs');
    return {
      name: this.name,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.inputs,
      outputs: this.outputs,
      docString,
    };
  }
}

export interface ModelOptions {
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
  opset?: number;
}

export function buildModel(g: GraphBuilder, opts: ModelOptions = {}): ModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImports: [{ domain: '', version: opts.opset ?? OPSET }],
    producerName: opts.producerName ?? 'eflip',
    producerVersion: opts.producerVersion ?? '0.0.0',
    docString: opts.docString,
    graph: g.build(),
    metadataProps: opts.metadata ?? {},
  };
}

/** Serialise a builder straight to ONNX bytes. */
export function serializeModel(g: GraphBuilder, opts: ModelOptions = {}): Uint8Array {
  return encodeModel(buildModel(g, opts));
}
