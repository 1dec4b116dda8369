// Typed ONNX messages (the subset eflip writes) and their protobuf encoders.
// Field numbers follow onnx/onnx.proto (IR version 8, opset 17).
import { ProtoWriter } from './protobuf_writer.js';

/** TensorProto.DataType */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  DOUBLE: 11,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

export interface TensorProto {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  /** little-endian element bytes */
  rawData: Uint8Array;
}

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: TensorProto }
  | { type: 'graph'; value: GraphProto };

export interface AttributeProto {
  name: string;
  value: AttributeValue;
}

export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: AttributeProto[];
  docString?: string;
}

/** A dimension: a fixed size, or a symbolic name such as 'batch' / 'time'. */
export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  elemType: DataTypeCode;
  shape: Dim[];
  /** no shape at all (rank unknown), e.g. intermediate tensors exposed for calibration */
  noShape?: boolean;
  docString?: string;
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  docString?: string;
}

export interface OperatorSetId {
  domain: string;
  version: number;
}

export interface ModelProto {
  irVersion: number;
  opsetImports: OperatorSetId[];
  producerName: string;
  producerVersion: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps: Record<string, string>;
}

/** An int attribute of a node, or `dflt` when the node does not set it. */
export function attrInt(n: NodeProto, name: string, dflt: number): number {
  const a = n.attributes?.find((x) => x.name === name);
  return a && a.value.type === 'int' ? a.value.value : dflt;
}

export function encodeTensor(t: TensorProto): Uint8Array {
  const w = new ProtoWriter();
  if (t.dims.length) w.packedVarints(1, t.dims);
  w.varint(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.rawData);
  return w.finish();
}

export function encodeAttribute(a: AttributeProto): Uint8Array {
  const w = new ProtoWriter();
  w.string(1, a.name);
  const v = a.value;
  switch (v.type) {
    case 'float':
      w.float(2, v.value).varint(20, AttributeType.FLOAT);
      break;
    case 'int':
      w.varint(3, v.value).varint(20, AttributeType.INT);
      break;
    case 'string':
      w.string(4, v.value).varint(20, AttributeType.STRING);
      break;
    case 'tensor':
      w.message(5, encodeTensor(v.value)).varint(20, AttributeType.TENSOR);
      break;
    case 'graph':
      w.message(6, encodeGraph(v.value)).varint(20, AttributeType.GRAPH);
      break;
    case 'floats':
      w.packedFloats(7, v.value).varint(20, AttributeType.FLOATS);
      break;
    case 'ints':
      w.packedVarints(8, v.value).varint(20, AttributeType.INTS);
      break;
    case 'strings':
      for (const s of v.value) w.string(9, s);
      w.varint(20, AttributeType.STRINGS);
      break;
  }
  return w.finish();
}

export function encodeNode(n: NodeProto): Uint8Array {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  if (n.docString) w.string(6, n.docString);
  if (n.domain) w.string(7, n.domain);
  return w.finish();
}

function encodeDim(d: Dim): Uint8Array {
  const w = new ProtoWriter();
  if (typeof d === 'number') w.varint(1, d);
  else w.string(2, d);
  return w.finish();
}

export function encodeValueInfo(v: ValueInfoProto): Uint8Array {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, encodeDim(d));
  const tensorType = new ProtoWriter().varint(1, v.elemType);
  if (!v.noShape) tensorType.message(2, shape.finish());
  const type = new ProtoWriter().message(1, tensorType.finish()).finish();
  const w = new ProtoWriter().string(1, v.name).message(2, type);
  if (v.docString) w.string(3, v.docString);
  return w.finish();
}

export function encodeGraph(g: GraphProto): Uint8Array {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  if (g.docString) w.string(10, g.docString);
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  for (const v of g.valueInfo ?? []) w.message(13, encodeValueInfo(v));
  return w.finish();
}

export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  if (m.domain) w.string(4, m.domain);
  if (m.modelVersion !== undefined) w.varint(5, m.modelVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsetImports)
    w.message(8, new ProtoWriter().string(1, o.domain).varint(2, o.version).finish());
  for (const [k, v] of Object.entries(m.metadataProps))
    w.message(14, new ProtoWriter().string(1, k).string(2, v).finish());
  return w.finish();
}
