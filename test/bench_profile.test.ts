// `eflip bench profile`: onnxruntime's per-node profile summed by op and by layer — the layer
// names from the export's node names, the sums over the timed runs, and the command end to end
// on the demo model (onnxruntime-node and onnxruntime-web wasm, float32 and int8).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, tempDir } from './onnx_helpers.js';
import { layerOf, summarize, type ModelProfile } from '../src/cli/bench/profile.js';

const bin = path.join(ROOT, 'bin/eflip.js');
const demo = path.join(ROOT, 'assets/demo/model.safetensors');
let tmp: ReturnType<typeof tempDir>;
let onnx: string;

function eflip(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

before(() => {
  tmp = tempDir('eflip-bench-profile-');
  onnx = path.join(tmp.dir, 'demo.onnx');
  const r = eflip(['export', '-c', demo, '-o', onnx]);
  assert.equal(r.status, 0, r.stderr);
});
after(() => tmp.cleanup());

test('layerOf: module paths with block indices folded, export and fusion suffixes dropped', () => {
  const cases: [string, string][] = [
    [
      'frontend_3d.efnet.blocks.3.block.depth_wise.0_0/Conv_token_7_kernel_time',
      'frontend_3d.efnet.blocks.*.block.depth_wise',
    ],
    ['frontend_3d.conv3d.conv3d_0_nchwc_kernel_time', 'frontend_3d.conv3d.conv3d'],
    [
      'tcn_block.tcn_layers.2.conv_block.4_0/MatMul/MatMulAddFusion_kernel_time',
      'tcn_block.tcn_layers.*.conv_block',
    ],
    ['frontend_3d.conv3d.relu_0.q/QuantizeLinear_kernel_time', 'frontend_3d.conv3d.relu'],
    [
      'frontend_3d.efnet.blocks.12.block.linear_bottleneck.silu.sigmoid_0/Sigmoid_kernel_time',
      'frontend_3d.efnet.blocks.*.block.linear_bottleneck.silu.sigmoid',
    ],
    ['time_stack_0/Gather_kernel_time', 'time_stack'],
  ];
  for (const [node, layer] of cases) assert.equal(layerOf(node), layer, node);
});

test('summarize: per-run sums over the runs after the first, shares of the kernel total', () => {
  const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
  const node = (ts: number, dur: number, op: string, name: string) => ({
    cat: 'Node',
    name: `${name}_kernel_time`,
    ts,
    dur,
    args: { op_name: op },
  });
  const events = [
    run(0, 1000),
    node(10, 900, 'Conv', 'a.blocks.0.conv_0/Conv'), // the untimed first run: not counted
    run(2000, 1000),
    node(2010, 600, 'Conv', 'a.blocks.0.conv_0/Conv'),
    node(2700, 200, 'Conv', 'a.blocks.1.conv_0/Conv'),
    node(2900, 200, 'Mul', 'a.silu_0/Mul'),
    run(4000, 3000),
    node(4010, 400, 'Conv', 'a.blocks.0.conv_0/Conv'),
    node(4500, 400, 'Conv', 'a.blocks.1.conv_0/Conv'),
    node(5000, 200, 'Mul', 'a.silu_0/Mul'),
    node(9000, 5000, 'Mul', 'outside_0/Mul'), // outside every run: not counted
  ];
  const p = summarize(
    events,
    { model: 'm', runtime: 'node', threads: 1 },
    { 'a.blocks.*.conv': 1.6e6, 'a.silu': 1e6 },
  );
  assert.equal(p.runs, 2);
  assert.equal(p.kernelMs, 1); // (1000 + 1000) µs over 2 runs
  assert.deepEqual(
    p.byOp.map((r) => [r.key, r.ms, r.share, r.nodes]),
    [
      ['Conv', 0.8, 80, 2],
      ['Mul', 0.2, 20, 1],
    ],
  );
  // the conv's MACs at its kernel time: 1.6 M MACs in 0.8 ms; a Mul does no layer MACs
  assert.deepEqual(
    p.byLayer.map((r) => [r.key, r.ms, r.nodes, r.gmacPerS]),
    [
      ['Conv a.blocks.*.conv', 0.8, 2, 2],
      ['Mul a.silu', 0.2, 1, undefined],
    ],
  );
  assert.equal(p.runMs, 3); // median of the timed runs' wall times (1 and 3 ms: the upper one)
  assert.throws(
    () => summarize([run(0, 1)], { model: 'm', runtime: 'node', threads: 1 }),
    /fewer than 2 runs/,
  );
});

function profileOf(args: string[]): ModelProfile[] {
  const r = eflip(['bench', 'profile', ...args, '--runs', '2', '--frames', '9', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { frames: number; batch: number; models: ModelProfile[] };
  assert.equal(out.frames, 9);
  assert.equal(out.batch, 1);
  for (const m of out.models) {
    assert.equal(m.runs, 2);
    assert.ok(m.kernelMs > 0 && m.runMs > 0, JSON.stringify(m).slice(0, 200));
    const total = m.byOp.reduce((a, x) => a + x.share, 0);
    assert.ok(Math.abs(total - 100) < 1, `shares sum to ${total}`);
    assert.ok(Math.abs(m.byLayer.reduce((a, x) => a + x.ms, 0) - m.kernelMs) < 0.05);
    assert.ok(
      m.byLayer.some((x) => x.key.includes('frontend_3d.efnet.blocks.*.block.')),
      m.byLayer.map((x) => x.key).join(', '),
    );
  }
  return out.models;
}

test('eflip bench profile: an .onnx export on onnxruntime-node and on onnxruntime-web wasm', () => {
  const [node] = profileOf(['--model', onnx]);
  assert.equal(node.runtime, 'node');
  assert.equal(node.model, 'demo.onnx');
  assert.ok(node.byOp.some((x) => x.key === 'Conv'));
  const [wasm] = profileOf(['--model', onnx, '--runtime', 'wasm']);
  assert.equal(wasm.runtime, 'wasm');
  assert.ok(wasm.byOp.some((x) => /Conv/.test(x.key)));
});

test('eflip bench profile --int8: the checkpoint in float32 and in int8 (fused QLinear kernels)', () => {
  const [fp32, int8] = profileOf(['--model', demo, '--int8']);
  assert.equal(fp32.model, 'model.safetensors');
  assert.equal(int8.model, 'model.safetensors int8');
  assert.ok(!fp32.byOp.some((x) => x.key.startsWith('QLinear')));
  for (const op of ['QLinearConv', 'QLinearSigmoid', 'QLinearMul'])
    assert.ok(
      int8.byOp.some((x) => x.key === op),
      `${op} in ${int8.byOp.map((x) => x.key)}`,
    );
  const refused = eflip(['bench', 'profile', '--model', onnx, '--int8']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--int8 quantizes a checkpoint/);
});

test("the model summary's MACs by layer add up to its front-end, TCN and head MACs", async () => {
  const { summarize: summarizeModel } = await import('../src/model/summary.js');
  const { modelConfig } = await import('../src/model/config.js');
  for (const variant of ['T', 'S', 'B']) {
    const s = summarizeModel(modelConfig({ variant }), 29, 88);
    const sum = Object.values(s.layerMacs).reduce((a, b) => a + b, 0);
    assert.equal(sum, s.macs.frontend + s.macs.tcn + s.macs.head, variant);
    assert.ok(s.layerMacs['frontend_3d.efnet.blocks.*.block.depth_wise'] > 0, variant);
  }
});
