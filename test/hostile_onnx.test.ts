// ONNX graphs from a stranger: onnxruntime runs any valid graph, so eflip checks the graph
// before opening it (io/onnx/graph_check.ts). Each case is the demo export plus one hostile
// part appended as a second graph field (protobuf merges repeated message fields, and
// onnxruntime reads the merged graph), or a node spliced into the graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportModelProto } from '../src/io/onnx/export_model.js';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import {
  encodeModel,
  encodeNode,
  type ModelProto,
  type NodeProto,
} from '../src/io/onnx/onnx_proto.js';
import { ProtoWriter } from '../src/io/onnx/protobuf_writer.js';
import { bytesSource } from '../src/infer/onnx_model_source.js';
import { loadLipReader } from '../src/infer/load_node.js';
import { checkGraph, EFLIP_OPS, graphLimits } from '../src/io/onnx/graph_check.js';
import { ModelLoadError } from '../src/infer/types.js';

const repoRoot = new URL('../../', import.meta.url).pathname;
const DEMO = join(repoRoot, 'assets/demo/model.safetensors');
const SAMPLE = join(repoRoot, 'assets/samples/ABOUT_00001.mp4');
const proto = (): ModelProto => exportModelProto(loadCheckpoint(DEMO), 'full');

/** The model with `extra` (GraphProto bytes) appended as a second graph field. */
function withGraphPart(extra: Uint8Array): Uint8Array {
  const base = encodeModel(proto());
  const w = new ProtoWriter();
  w.bytes(7, extra);
  const tail = w.finish();
  const out = new Uint8Array(base.length + tail.length);
  out.set(base);
  out.set(tail, base.length);
  return out;
}

/** A float initializer whose data lives in another file (what onnxruntime then reads). */
function externalInitializer(location: string, asLocationField: boolean): Uint8Array {
  const t = new ProtoWriter();
  t.packedVarints(1, [16]);
  t.varint(2, 1);
  t.string(8, 'leak');
  if (asLocationField) t.varint(14, 1);
  else t.bytes(13, new ProtoWriter().string(1, 'location').string(2, location).finish());
  return new ProtoWriter().bytes(5, t.finish()).finish();
}

/** The demo graph with `nodes` added (and their int64/float constants as initializers). */
function withNodes(nodes: NodeProto[], consts: Record<string, number[]> = {}, float = false) {
  const m = proto();
  for (const [name, v] of Object.entries(consts)) {
    const raw = float
      ? new Uint8Array(new Float32Array(v).buffer)
      : new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer);
    m.graph.initializers.push({ name, dataType: float ? 1 : 7, dims: [v.length], rawData: raw });
  }
  m.graph.nodes.push(...nodes);
  return encodeModel(m);
}

const refuses = (bytes: Uint8Array, pattern: RegExp) =>
  assert.throws(
    () => bytesSource(bytes, 'm.onnx'),
    (e: unknown) => {
      assert.ok(e instanceof ModelLoadError, String(e));
      assert.match((e as Error).message, pattern);
      assert.ok(!(e as Error).message.includes('\n'), 'one line');
      return true;
    },
  );

test('every graph eflip exports passes the check, with only the operators it lists', () => {
  const ck = loadCheckpoint(DEMO);
  for (const part of ['full', 'frontend', 'backend'] as const) {
    const m = exportModelProto(ck, part);
    const ops = checkGraph(encodeModel(m), part, graphLimits(ck.config.tcn));
    for (const op of ops) assert.ok(EFLIP_OPS.has(op) || op === 'Constant', op);
  }
});

test('a graph that reads a file outside itself (external data) is refused before onnxruntime opens it', async () => {
  refuses(
    withGraphPart(externalInitializer('/etc/passwd', false)),
    /outside the file .*"\/etc\/passwd"/,
  );
  refuses(withGraphPart(externalInitializer('', true)), /data_location EXTERNAL/);
  // the CLI: one line, exit 1, no bytes of the file in the answer
  const dir = mkdtempSync(join(tmpdir(), 'eflip-hostile-onnx-'));
  const f = join(dir, 'leak.onnx');
  writeFileSync(f, withGraphPart(externalInitializer('../../etc/hostname', false)));
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'bin/eflip.js'), 'predict', SAMPLE, '-c', f, '--device', 'cpu'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^eflip predict: .*leak\.onnx: a tensor's data is outside the file/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  await assert.rejects(loadLipReader(f), ModelLoadError);
});

test('control flow, unknown operators, local functions and constant-sized Range / Resize / Pad are refused', () => {
  const op = (opType: string, inputs: string[], attributes: NodeProto['attributes'] = []) => ({
    opType,
    inputs,
    outputs: [`${opType}_out`],
    attributes,
  });
  refuses(
    withNodes([op('ConstantOfShape', ['n'])], { n: [2 ** 31] }),
    /"ConstantOfShape" is not one/,
  );
  refuses(
    withNodes([op('Expand', ['frames', 'n'])], { n: [1, 1, 2 ** 20] }),
    /"Expand" is not one/,
  );
  refuses(
    withNodes([{ ...op('Relu', ['frames']), domain: 'com.example' }]),
    /"com\.example\.Relu" is not one/,
  );
  const body = { name: 'body', nodes: [], initializers: [], inputs: [], outputs: [] };
  refuses(
    withNodes([op('Relu', ['frames'], [{ name: 'body', value: { type: 'graph', value: body } }])]),
    /holds a subgraph/,
  );
  refuses(
    withNodes([op('Range', ['a', 'n', 'd'])], { a: [0], n: [2 ** 40], d: [1] }),
    /a Range whose bounds/,
  );
  refuses(
    withNodes([op('Resize', ['frames', '', 's'])], { s: [1, 1, 1e5, 1e5] }, true),
    /a Resize that is not eflip's/,
  );
  refuses(
    withNodes([op('Pad', ['frames', 'p'])], { p: [0, 0, 0, 0, 1e6, 0, 0, 0, 0, 0] }),
    /a Pad of .*at most 2/,
  );
  refuses(
    withNodes([
      op('MaxPool', ['frames'], [{ name: 'pads', value: { type: 'ints', value: [1e6, 0, 0, 0] } }]),
    ]),
    /a MaxPool with pads/,
  );
  // growth by chaining allowed operators: 40 Concats of a tensor with itself (2^40 × the input)
  const chain: NodeProto[] = [];
  for (let i = 0; i < 40; i++) {
    const x = i ? `dbl${i - 1}` : 'frames';
    chain.push({
      opType: 'Concat',
      inputs: [x, x],
      outputs: [`dbl${i}`],
      attributes: [{ name: 'axis', value: { type: 'int', value: 0 } }],
    });
  }
  refuses(
    withNodes(chain),
    /cannot bound the graph's memory at Concat "dbl\d+": a tensor of .* values for a 3-frame clip/,
  );
  refuses(
    withNodes([op('Reshape', ['frames', 'r'])], { r: [2 ** 20, 2 ** 20, -1] }),
    /cannot bound the graph's memory at Reshape/,
  );
  const fn = new ProtoWriter().bytes(25, new ProtoWriter().string(1, 'f').finish()).finish();
  const base = encodeModel(proto());
  const withFn = new Uint8Array(base.length + fn.length);
  withFn.set(base);
  withFn.set(fn, base.length);
  refuses(withFn, /defines its own functions/);
  // a node encoded with its op type after the attributes is still read whole
  assert.ok(encodeNode(op('Relu', ['x'])).length > 0);
});

test('an answer that is not log-probabilities (NaN, positive) is refused, not printed as a word list', async () => {
  const m = proto();
  const out = m.graph.outputs[0].name;
  const last = m.graph.nodes.find((n) => n.outputs.includes(out))!;
  last.outputs = last.outputs.map((o) => (o === out ? 'lp_raw' : o));
  m.graph.initializers.push({
    name: 'nan',
    dataType: 1,
    dims: [1],
    rawData: new Uint8Array(new Float32Array([NaN]).buffer),
  });
  m.graph.nodes.push({ opType: 'Mul', inputs: ['lp_raw', 'nan'], outputs: [out] });
  const dir = mkdtempSync(join(tmpdir(), 'eflip-hostile-onnx-'));
  const f = join(dir, 'nan.onnx');
  writeFileSync(f, encodeModel(m));
  const reader = await loadLipReader(f);
  try {
    const size = reader.preprocessing.size;
    const clip = { data: new Float32Array(29 * size * size), frames: 29, channels: 1, size };
    await assert.rejects(
      reader.predictClip(clip),
      /not log-probabilities \(value NaN at index 0\)/,
    );
  } finally {
    await reader.dispose();
  }
});
