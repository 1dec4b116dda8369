// Issue #16, hostile MODEL FILES: a model file from a stranger is hostile input. Each crafted file
// (made here from the bundled demo model) goes through the real CLI — predict on both runtimes,
// eval, export, stream, info, train resume — and must be refused on one line naming the problem,
// fast, in bounded memory, with the input unchanged and nothing written. Then unit tests of the
// one validation every loader shares (src/model/model_metadata.ts, model_file.ts, safetensors.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertRefused,
  runEflip,
  snapshot,
  assertUnchanged,
  tempDir,
  worst,
} from './hostile_helpers.js';
import {
  parseSafetensors,
  parseSafetensorsHeader,
  serializeSafetensors,
  float32Raw,
  numel,
  SafetensorsError,
  type RawTensor,
} from '../src/io/safetensors.js';
import { sniffFileKind } from '../src/io/file_kind.js';
import { checkPreprocessing } from '../src/io/onnx/preprocessing.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { modelConfig } from '../src/model/config.js';
import { stateShapes } from '../src/model/state_shapes.js';
import { summarize } from '../src/model/summary.js';
import {
  checkLabels,
  checkTensorsMatchConfig,
  selectWeights,
  validateModelMetadata,
} from '../src/model/model_metadata.js';
import { readModelFile } from '../src/model/model_file.js';
import { factsFromMetadata } from '../src/infer/onnx_model_source.js';
import { readOnnxSummary } from '../src/io/onnx/onnx_reader.js';
import { zipOf } from './zip_helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEMO = join(ROOT, 'assets/demo/model.safetensors');
const SAMPLE = join(ROOT, 'assets/samples/ABOUT_00001.mp4');
const demo = parseSafetensors(readFileSync(DEMO));
const demoConfig = JSON.parse(demo.metadata.config);

const MAX_MS = 10_000;
const MAX_MIB = 700;

// ------------------------------------------------------------------ crafting
type Json = Record<string, any>;

/** The demo model with its metadata changed (undefined removes a key). */
function withMeta(
  patch: Record<string, string | undefined>,
  tensors: Map<string, RawTensor> = demo.tensors,
): Uint8Array {
  const meta: Record<string, string> = { ...demo.metadata };
  for (const [k, v] of Object.entries(patch))
    if (v === undefined) delete meta[k];
    else meta[k] = v;
  return serializeSafetensors(tensors, meta);
}
/** The demo model with its config changed. */
function withConfig(edit: (c: Json) => void): Uint8Array {
  const c = structuredClone(demoConfig);
  edit(c);
  return withMeta({ config: JSON.stringify(c) });
}
/** A raw safetensors file: a header object (entries with data_offsets given) and `data` bytes. */
function rawFile(header: Json, data: number, headerLength?: bigint): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}
/** A stored zip (what torch.save writes): entries archive/data.pkl and archive/version. */
function torchZip(): Uint8Array {
  return zipOf([
    ['archive/data.pkl', Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e])],
    ['archive/version', Buffer.from('3\n')],
  ]);
}
/** Legacy torch.save: pickle protocol 2, then the magic number 0x1950a86a20f9469cfc6c as LONG1. */
function torchLegacy(): Uint8Array {
  const magic = Buffer.alloc(10);
  let m = 0x1950a86a20f9469cfc6cn;
  for (let i = 0; i < 10; i++) {
    magic[i] = Number(m & 0xffn);
    m >>= 8n;
  }
  return Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a]), magic, Buffer.from('.')]);
}
/** An ONNX file with metadata props appended (repeated field 14: a later key wins). */
function varint(n: number): number[] {
  const o: number[] = [];
  while (n > 0x7f) {
    o.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  o.push(n);
  return o;
}
function withOnnxMeta(base: Uint8Array, props: Record<string, string>): Uint8Array {
  const parts: number[] = [];
  for (const [k, v] of Object.entries(props)) {
    const kb = [...Buffer.from(k)],
      vb = [...Buffer.from(v)];
    const entry = [0x0a, ...varint(kb.length), ...kb, 0x12, ...varint(vb.length), ...vb];
    parts.push(0x72, ...varint(entry.length), ...entry);
  }
  return Buffer.concat([base, Buffer.from(parts)]);
}
let onnxBase: Uint8Array | undefined;
const demoOnnx = () => (onnxBase ??= exportOnnx(loadCheckpoint(DEMO), 'full'));

// ------------------------------------------------------------------ the CLI contract
const work = tempDir('eflip-hostile-model-');
const emptyData = join(work, 'data');
mkdirSync(emptyData);
let cases = 0;
let cliCases = 0;
const slowest = { ms: 0, label: '' };

type Cmd = 'predict' | 'predict-torch' | 'eval' | 'export' | 'stream' | 'info' | 'resume';
function argv(cmd: Cmd, file: string, out: string): string[] {
  switch (cmd) {
    case 'predict':
      return ['predict', SAMPLE, '--checkpoint', file, '--device', 'cpu'];
    case 'predict-torch':
      return ['predict', SAMPLE, '--checkpoint', file, '--runtime', 'torch', '--device', 'cpu'];
    case 'eval':
      return ['eval', '--checkpoint', file, '--data', emptyData];
    case 'export':
      return ['export', '--checkpoint', file, '--out', join(out, 'model.onnx')];
    case 'stream':
      return ['stream', SAMPLE, '--checkpoint', file, '--device', 'cpu'];
    case 'info':
      return ['info', '--model', file];
    case 'resume':
      return ['train', `checkpoint=${file}`, `run_dir=${join(out, 'run')}`];
  }
}

/** Write `bytes` as `name`, run each command on it, and check the refusal contract. */
async function refuses(
  label: string,
  name: string,
  bytes: Uint8Array,
  cmds: Cmd[],
  message: RegExp,
): Promise<void> {
  const dir = join(work, `case${cases}`);
  const out = join(work, `out${cases}`);
  mkdirSync(dir);
  mkdirSync(out);
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const before = snapshot(dir);
  for (const cmd of cmds) {
    cases++;
    cliCases++;
    const r = await runEflip(argv(cmd, file, out), { cwd: out, timeoutMs: 30_000 });
    assertRefused(r, message, { maxMs: MAX_MS, maxMiB: MAX_MIB, label: `${label} [${cmd}]` });
    if (r.ms > slowest.ms) Object.assign(slowest, { ms: r.ms, label: `${label} [${cmd}]` });
    assert.doesNotMatch(
      r.stderr,
      /is not a function|Cannot read prop|undefined|Invalid typed array|RangeError/,
      `${label} [${cmd}]: internals leak: ${r.stderr}`,
    );
    assertUnchanged(dir, before, { label: `${label} [${cmd}]` });
    assert.deepEqual(
      readdirSync(out),
      [],
      `${label} [${cmd}]: wrote ${readdirSync(out).join(', ')}`,
    );
  }
}

test('sanity: the unmodified demo model predicts on both runtimes (so the refusals below are about the files)', async () => {
  for (const rt of ['onnx', 'torch']) {
    const r = await runEflip(
      ['predict', SAMPLE, '--checkpoint', DEMO, '--runtime', rt, '--device', 'cpu', '--json'],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).results[0].top.length, 5);
  }
});

const pre = JSON.parse(demo.metadata.preprocessing);
const labels10 = JSON.parse(demo.metadata.labels) as string[];
const extraTensor = () => {
  const m = new Map(demo.tensors);
  m.set('evil.weight', float32Raw([1, 2], [2]));
  return m;
};
const missingTensor = () => {
  const m = new Map(demo.tensors);
  m.delete('fc_layer.bias');
  return m;
};
const intTensor = () => {
  const m = new Map(demo.tensors),
    fc = demo.tensors.get('fc_layer.weight')!;
  m.set('fc_layer.weight', { dtype: 'int32', shape: fc.shape, data: fc.data });
  return m;
};
const t = (o: number, n: number, shape = [n / 4]) => ({
  dtype: 'F32',
  shape,
  data_offsets: [o, o + n],
});

test('absurd sizes in the config are refused before anything is allocated, by every command', async () => {
  await refuses(
    'classes 2e9, no labels',
    'm.safetensors',
    (() => {
      const c = structuredClone(demoConfig);
      c.classes = 2_000_000_000;
      return withMeta({ config: JSON.stringify(c), labels: undefined });
    })(),
    ['predict', 'predict-torch', 'eval', 'export', 'stream', 'info'],
    /classes = 2000000000 is beyond the limit/,
  );
  await refuses(
    'stages[0].layers 5e6',
    'm.safetensors',
    withConfig((c) => {
      c.stages[0] = '1,3,1,8,8,5000000,F';
    }),
    ['predict', 'eval'],
    /stages\[0\]\.layers = 5000000 is beyond the limit/,
  );
  await refuses(
    'featureDim 1e9',
    'm.safetensors',
    withConfig((c) => {
      c.featureDim = 1_000_000_000;
    }),
    ['predict-torch'],
    /featureDim = 1000000000 is beyond the limit/,
  );
  await refuses(
    'tcn.width 2^40',
    'm.safetensors',
    withConfig((c) => {
      c.tcn.width = 2 ** 40;
    }),
    ['export'],
    /tcn\.width = 1099511627776 is beyond the limit/,
  );
});

test('a config within bounds must describe exactly the tensors stored', async () => {
  await refuses(
    'tcn.width 60000 (in bounds)',
    'm.safetensors',
    withConfig((c) => {
      c.tcn.width = 60000;
    }),
    ['predict-torch'],
    /tensor 'tcn_block\.tcn_layers\.0\.conv_block\.0\.weight' is \[64, 64, 3\] but the model config .* needs \[60000, 64, 3\]/,
  );
  await refuses(
    'an extra tensor',
    'm.safetensors',
    withMeta({}, extraTensor()),
    ['predict'],
    /not part of the network .* 'evil\.weight'/,
  );
  await refuses(
    'right name, integer dtype',
    'm.safetensors',
    withMeta({}, intTensor()),
    ['export'],
    /'fc_layer\.weight' has dtype int32, the network needs a floating-point tensor/,
  );
  await refuses(
    'no config',
    'm.safetensors',
    withMeta({ config: undefined }),
    ['predict'],
    /no model config in the metadata .*eflip import/,
  );
  await refuses(
    'inChannels 0',
    'm.safetensors',
    withConfig((c) => {
      c.inChannels = 0;
    }),
    ['info'],
    /inChannels must be a positive integer, got 0/,
  );
  await refuses(
    'variant 5 (not a string)',
    'm.safetensors',
    withConfig((c) => {
      c.variant = 5;
    }),
    ['export'],
    /variant must be a string/,
  );
});

test('labels and pre-processing metadata are validated', async () => {
  await refuses(
    'labels {"a":1}',
    'm.safetensors',
    withMeta({ labels: '{"a":1}' }),
    ['predict', 'predict-torch', 'eval'],
    /metadata 'labels': labels must be a JSON array of strings/,
  );
  const ckpt = new Map([...demo.tensors].map(([k, v]) => [`model.${k}`, v] as [string, RawTensor]));
  await refuses(
    'training checkpoint, labels {"a":1}',
    'last.ckpt',
    withMeta({ labels: '{"a":1}', train_state: JSON.stringify({ version: 1 }) }, ckpt),
    ['resume'],
    /last\.ckpt: metadata 'labels': labels must be a JSON array of strings/,
  );
  await refuses(
    'duplicate labels',
    'm.safetensors',
    withMeta({ labels: JSON.stringify(Array(10).fill('HELLO')) }),
    ['predict'],
    /label "HELLO" appears twice/,
  );
  await refuses(
    'crop ../../etc/passwd',
    'm.safetensors',
    withMeta({ preprocessing: JSON.stringify({ ...pre, crop: '../../etc/passwd' }) }),
    ['predict', 'eval'],
    /unknown crop "\.\.\/\.\.\/etc\/passwd" \(known: mouth, center, landmarks\)/,
  );
  await refuses(
    'std 0',
    'm.safetensors',
    withMeta({ preprocessing: JSON.stringify({ ...pre, std: 0 }) }),
    ['eval'],
    /std must be a finite number > 0, got 0/,
  );
});

test('malformed safetensors containers are refused by the header check', async () => {
  await refuses(
    'overlapping data_offsets',
    'm.safetensors',
    rawFile({ __metadata__: demo.metadata, a: t(0, 16), b: t(8, 16) }, 24),
    ['predict', 'eval'],
    /tensors 'a' and 'b' overlap/,
  );
  await refuses(
    'offsets past the end',
    'm.safetensors',
    rawFile({ a: t(0, 1 << 30) }, 16),
    ['info'],
    /invalid data_offsets \[0,1073741824\] \(data section is 16 bytes\)/,
  );
  await refuses(
    'a 4 GB declared header',
    'm.safetensors',
    rawFile({ a: t(0, 16) }, 16, 4_000_000_000n),
    ['predict'],
    /header length 4000000000 is absurd/,
  );
  await refuses(
    'a non-integer dim',
    'm.safetensors',
    rawFile({ a: { dtype: 'F32', shape: [2.5, 2], data_offsets: [0, 20] } }, 20),
    ['export'],
    /invalid shape \[2\.5,2\]/,
  );
  await refuses(
    'a negative dim',
    'm.safetensors',
    rawFile({ a: { dtype: 'F32', shape: [-4, -1], data_offsets: [0, 16] } }, 16),
    ['predict-torch'],
    /invalid shape \[-4,-1\]/,
  );
  const many: Json = {};
  for (let i = 0; i < 300_000; i++)
    many[`t${i}`] = { dtype: 'U8', shape: [0], data_offsets: [0, 0] };
  await refuses(
    '300 000 tensors in the header',
    'm.safetensors',
    rawFile(many, 0),
    ['predict-torch'],
    /header holds 300001 JSON objects \(at most 200000/,
  );
  await refuses(
    'a hole in the data',
    'm.safetensors',
    rawFile({ a: t(0, 8), b: t(16, 8) }, 24),
    ['info'],
    /bytes 8-16 of the data section belong to no tensor/,
  );
});

test('files that are not eflip models are named for what they are', async () => {
  const torchMsg =
    /is a PyTorch checkpoint \(zip\), not an eflip model: convert it first with `eflip import .*m\.ckpt --out model\.safetensors`/;
  await refuses(
    'PyTorch zip checkpoint',
    'm.ckpt',
    torchZip(),
    ['predict', 'predict-torch', 'eval', 'export', 'stream', 'resume'],
    torchMsg,
  );
  await refuses(
    'PyTorch legacy pickle',
    'm.pt',
    torchLegacy(),
    ['predict'],
    /is a PyTorch checkpoint \(legacy pickle\), not an eflip model, and `eflip import` reads only PyTorch >= 1\.6 zip checkpoints: re-save it with torch\.save\(torch\.load\(path\), path\) in PyTorch >= 1\.6, then run `eflip import .*m\.pt --out model\.safetensors`/,
  );
  await refuses(
    'an mp4 as the model',
    'm.safetensors',
    readFileSync(SAMPLE),
    ['predict'],
    /is an MP4\/MOV video, not an eflip model/,
  );
  await refuses(
    'a text file',
    'model.bin',
    Buffer.from('hello, I am a model\n'),
    ['export'],
    /is a text file, not an eflip model/,
  );
  await refuses(
    'an empty file',
    'm.safetensors',
    new Uint8Array(0),
    ['predict-torch'],
    /is an empty file, not an eflip model/,
  );
});

test("ONNX files from a stranger: metadata validated as a checkpoint's", async () => {
  await refuses(
    'ONNX labels {"a":1}',
    'm.onnx',
    withOnnxMeta(demoOnnx(), { 'eflip.labels': '{"a":1}' }),
    ['predict'],
    /metadata 'eflip\.labels': labels must be a JSON array of strings/,
  );
  await refuses(
    'ONNX classes 2e9',
    'm.onnx',
    withOnnxMeta(demoOnnx(), { 'eflip.config': JSON.stringify({ ...demoConfig, classes: 2e9 }) }),
    ['predict'],
    /classes = 2000000000 is beyond the limit/,
  );
  await refuses(
    'ONNX crop ../../etc/passwd',
    'm.onnx',
    withOnnxMeta(demoOnnx(), { 'eflip.crop': '{"kind":"../../etc/passwd","size":64}' }),
    ['predict'],
    /unknown crop/,
  );
  await refuses(
    'ONNX given to the torch runtime',
    'm.onnx',
    demoOnnx(),
    ['predict-torch'],
    /the torch runtime needs a checkpoint/,
  );
});

/** Each crafted file (written to DIR/PREFIX<i>.safetensors) is refused by every in-process
 *  loader: an error matching its pattern, one line, within 2 s. */
async function refusedByEvery(
  loaders: [string, (f: string) => unknown][],
  variants: [string, Uint8Array, RegExp][],
  dir: string,
  prefix: string,
): Promise<void> {
  mkdirSync(dir);
  for (const [i, [label, bytes, re]] of variants.entries()) {
    const f = join(dir, `${prefix}${i}.safetensors`);
    writeFileSync(f, bytes);
    for (const [who, load] of loaders) {
      const t0 = performance.now();
      let err: Error | undefined;
      try {
        await load(f);
      } catch (e) {
        err = e as Error;
      }
      assert.ok(err, `${label} [${who}]: accepted`);
      assert.match(err!.message, re, `${label} [${who}]`);
      assert.ok(!err!.message.includes('\n'), `${label} [${who}]: not one line: ${err!.message}`);
      assert.ok(performance.now() - t0 < 2000, `${label} [${who}]: slow`);
      cases++;
    }
  }
}

test('every loader refuses the same way (in process): predict/stream (onnx, torch), eval, export, fine-tune, info', async () => {
  const { loadModel } = await import('../src/model/weights.js');
  const { loadForEval, loadPretrained } = await import('../src/train/model_io.js');
  const { createModel } = await import('../src/model/weights.js');
  const { checkModelHeader } = await import('../src/model/model_file.js');
  const { onnxSourceFor } = await import('../src/infer/load_node.js');
  const net = createModel(modelConfig(demoConfig), { seed: 0 });
  const loaders: [string, (f: string) => unknown][] = [
    ['onnx runtime', (f) => onnxSourceFor(f)],
    ['torch runtime', (f) => loadModel(f)],
    ['eval', (f) => loadForEval(f)],
    ['export', (f) => loadCheckpoint(f)],
    ['fine-tune', (f) => loadPretrained(net, f)],
    ['info', (f) => checkModelHeader(f)],
  ];
  const variants: [string, Uint8Array, RegExp][] = [
    [
      'classes 1000 with 10 stored',
      withConfig((c) => {
        c.classes = 1000;
      }),
      /fc_layer\.weight' is \[10, 64\] but the model config \(classes 1000/,
    ],
    [
      'missing tensor',
      withMeta({}, missingTensor()),
      /needs tensor 'fc_layer\.bias' \[10\], the file has none/,
    ],
    ['extra tensor', withMeta({}, extraTensor()), /not part of the network/],
    ['integer dtype', withMeta({}, intTensor()), /has dtype int32/],
    ['config an array', withMeta({ config: '[1, 2]' }), /model config must be a JSON object/],
    [
      'config with NaN',
      withMeta({ config: JSON.stringify(demoConfig).replace('"classes":10', '"classes":NaN') }),
      /metadata 'config' is not valid JSON/,
    ],
    [
      'classes -5',
      withConfig((c) => {
        c.classes = -5;
      }),
      /classes must be a positive integer, got -5/,
    ],
    [
      'classes "10"',
      withConfig((c) => {
        c.classes = '10';
      }),
      /classes must be a positive integer, got "10"/,
    ],
    [
      'stages a string',
      withConfig((c) => {
        c.stages = 'abc';
      }),
      /stages must be a list of rows/,
    ],
    [
      'transformer a string',
      withConfig((c) => {
        c.transformer = 'big';
      }),
      /transformer must be an object/,
    ],
    [
      'unknown tcn key',
      withConfig((c) => {
        c.tcn.evil = 1;
      }),
      /unknown model config key 'tcn\.evil'/,
    ],
    [
      'tcn.layers 1e6',
      withConfig((c) => {
        c.tcn.layers = 1e6;
      }),
      /tcn\.layers = 1000000 is beyond the limit/,
    ],
    ['labels {"a":1}', withMeta({ labels: '{"a":1}' }), /labels must be a JSON array of strings/],
    ['3 labels for 10 classes', withMeta({ labels: '["a","b","c"]' }), /3 labels for 10 classes/],
    [
      'an empty label',
      withMeta({ labels: JSON.stringify(['', ...labels10.slice(1)]) }),
      /label 0 is empty/,
    ],
    [
      'preprocessing not JSON',
      withMeta({ preprocessing: '{crop' }),
      /metadata 'preprocessing' is not valid JSON/,
    ],
    [
      'mean "NaN"',
      withMeta({ preprocessing: JSON.stringify({ ...pre, mean: 'NaN' }) }),
      /mean must be a finite number, got "NaN"/,
    ],
    [
      'size 1e9',
      withMeta({ preprocessing: JSON.stringify({ ...pre, size: 1e9 }) }),
      /size must be an integer in \[8, 1024\]/,
    ],
    [
      'std -1',
      withMeta({ preprocessing: JSON.stringify({ ...pre, std: -1 }) }),
      /std must be a finite number > 0/,
    ],
    [
      'header past the file',
      rawFile({ a: t(0, 16) }, 16, 5000n),
      /header length 5000 exceeds the file size/,
    ],
    [
      'bytes ≠ dtype × shape',
      rawFile({ a: { dtype: 'F32', shape: [1000, 1000], data_offsets: [0, 16] } }, 16),
      /needs 4000000 bytes, offsets give 16/,
    ],
    [
      '__metadata__ an array',
      rawFile({ __metadata__: ['x'], a: t(0, 8) }, 8),
      /__metadata__ must be an object of strings/,
    ],
    [
      'header not an object',
      rawFile([1, 2, 3] as unknown as Json, 0),
      /header is not a JSON object/,
    ],
    [
      'no tensors',
      rawFile({ __metadata__: demo.metadata }, 0),
      /the model config needs tensor|holds no weights/,
    ],
  ];
  await refusedByEvery(loaders, variants, join(work, 'loaders'), 'v');
  net.dispose();
});

test('non-finite weights are refused by every loader that reads weights, with one message (torch runtime, eval, fine-tune as ONNX)', async () => {
  const { loadModel, createModel } = await import('../src/model/weights.js');
  const { loadForEval, loadPretrained } = await import('../src/train/model_io.js');
  const { onnxSourceFor } = await import('../src/infer/load_node.js');
  const net = createModel(modelConfig(demoConfig), { seed: 0 });
  const loaders: [string, (f: string) => unknown][] = [
    ['onnx runtime', (f) => onnxSourceFor(f)],
    ['torch runtime', (f) => loadModel(f)],
    ['eval', (f) => loadForEval(f)],
    ['export', (f) => loadCheckpoint(f)],
    ['fine-tune', (f) => loadPretrained(net, f)],
  ];
  /** the demo model with element `at` of tensor `key` set to `v` (as float32, or bfloat16) */
  const poisoned = (key: string, at: number, v: number, bf16 = false) => {
    const m = new Map(demo.tensors);
    const src = m.get(key)!;
    const data = new Uint8Array(src.data);
    new DataView(data.buffer).setFloat32(at * 4, v, true);
    if (!bf16) m.set(key, { ...src, data });
    else {
      const n = data.length / 4,
        out = new Uint8Array(n * 2);
      for (let i = 0; i < n; i++) out.set(data.subarray(i * 4 + 2, i * 4 + 4), i * 2);
      m.set(key, { dtype: 'bfloat16', shape: src.shape, data: out });
    }
    return withMeta({}, m);
  };
  const variants: [string, Uint8Array, RegExp][] = [
    ['NaN', poisoned('fc_layer.weight', 7, NaN), /weight 'fc_layer\.weight' contains NaN\/Inf/],
    [
      '+Inf in the stem',
      poisoned('frontend_3d.conv3d.conv3d.weight', 0, Infinity),
      /weight 'frontend_3d\.conv3d\.conv3d\.weight' contains NaN\/Inf/,
    ],
    [
      '-Inf, bfloat16',
      poisoned('fc_layer.bias', 3, -Infinity, true),
      /weight 'fc_layer\.bias' contains NaN\/Inf/,
    ],
  ];
  const dir = join(work, 'nonfinite');
  await refusedByEvery(loaders, variants, dir, 'n');
  // the unmodified weights still load (the check reads the bytes in place: no false alarm)
  loadModel(DEMO).model.dispose();
  net.dispose();
  // CLI: one line, exit non-zero, for the torch runtime
  const f = join(dir, 'n0.safetensors');
  const r = await runEflip(['predict', SAMPLE, '--checkpoint', f, '--runtime', 'torch'], {
    timeoutMs: 30_000,
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /weight 'fc_layer\.weight' contains NaN\/Inf/);
});

test('firstNonFinite reads float32, bfloat16, float16 and float64 bytes in place', async () => {
  const { firstNonFinite } = await import('../src/model/model_metadata.js');
  const f32 = new Float32Array([1, -2, 3.4e38, Infinity]);
  assert.equal(firstNonFinite({ dtype: 'float32', data: new Uint8Array(f32.buffer) }), 3);
  // float64: the network runs in float32, so 1e300 (finite in float64) is ±Inf there
  const f64 = new Float64Array([1, 3.4e38, 1e300, NaN]);
  assert.equal(firstNonFinite({ dtype: 'float64', data: new Uint8Array(f64.buffer) }), 2);
  const f64ok = new Float64Array([1, -3.4e38, 1e-300]);
  assert.equal(firstNonFinite({ dtype: 'float64', data: new Uint8Array(f64ok.buffer) }), -1);
  // float16: 0x3c00 = 1, 0x7bff = 65504 (largest finite), 0xfc00 = -Inf
  const f16 = new Uint16Array([0x3c00, 0x7bff, 0xfc00]);
  assert.equal(firstNonFinite({ dtype: 'float16', data: new Uint8Array(f16.buffer) }), 2);
  // bfloat16: 0x7f7f = largest finite, 0x7fc0 = NaN
  const bf = new Uint16Array([0x7f7f, 0x3f80, 0x7fc0]);
  assert.equal(firstNonFinite({ dtype: 'bfloat16', data: new Uint8Array(bf.buffer) }), 2);
  assert.equal(
    firstNonFinite({
      dtype: 'float32',
      data: new Uint8Array(new Float32Array([0, -0, 1e-45]).buffer),
    }),
    -1,
  );
  assert.equal(firstNonFinite({ dtype: 'int32', data: new Uint8Array([255, 255, 255, 127]) }), -1);
});

// ------------------------------------------------------------------ unit tests of the validator
test('stateShapes(config) is exactly LipReaderNet(config).stateDict(): names, shapes, int/float, order', async () => {
  const { LipReaderNet } = await import('../src/model/lipreader.js');
  for (const input of [
    { variant: 'T' },
    { variant: 'B', classes: 7, inChannels: 3, frontendMaxPool: true },
    {
      stages: ['1,3,1,8,8,1 F', '4,3,2,8,16,2 N', '4,5,2,16,24,1 M'],
      featureDim: 32,
      transformer: { layers: 0, heads: 4 },
      tcn: { layers: 3, width: 32, kernel: 5 },
      classes: 3,
    },
    {
      stages: ['1,3,1,8,8,1 F'],
      featureDim: 16,
      transformer: { layers: 3, heads: 2, ffn: 8 },
      tcn: { layers: 2, width: 24 },
      classes: 4,
      inChannels: 2,
    },
  ]) {
    const cfg = modelConfig(input);
    const net = new LipReaderNet(cfg);
    const real = [...net.stateDict()].map(
      ([k, t]) => `${k} [${t.shape}] ${t.dtype === 'int64' ? 'int' : 'float'}`,
    );
    const derived = [...stateShapes(cfg)].map((e) => `${e.name} [${e.shape}] ${e.kind}`);
    assert.deepEqual(derived, real, JSON.stringify(input));
    // and the counts `eflip info` computes by its own arithmetic agree
    let params = 0,
      buffers = 0;
    for (const e of stateShapes(cfg))
      if (/running_|num_batches/.test(e.name)) buffers += numel(e.shape);
      else params += numel(e.shape);
    const s = summarize(cfg);
    assert.deepEqual([params, buffers], [s.params.total, s.buffers], JSON.stringify(input));
    net.dispose();
  }
});

test('a network beyond 2^30 parameters is refused before libtorch allocates it (a config of in-bounds sizes)', async () => {
  const { LipReaderNet } = await import('../src/model/lipreader.js');
  const t0 = performance.now();
  assert.throws(
    () =>
      new LipReaderNet({
        variant: 'T',
        featureDim: 65536,
        transformer: { heads: 8, ffn: 65536 },
        tcn: { width: 65536 },
      }),
    /the network would have [\d,]+ parameters \(at most 1,073,741,824\)/,
  );
  assert.ok(performance.now() - t0 < 2000);
});

test('checkTensorsMatchConfig: size-1 dims and absent BN counters are tolerated, nothing else', () => {
  const cfg = modelConfig({
    stages: ['1,3,1,8,8,1 F'],
    featureDim: 8,
    transformer: { layers: 0, heads: 1 },
    tcn: { layers: 1, width: 8 },
    classes: 2,
  });
  const state = () =>
    new Map(
      [...stateShapes(cfg)].map((e) => [
        e.name,
        { dtype: e.kind === 'float' ? 'float32' : 'int64', shape: e.shape },
      ]),
    );
  checkTensorsMatchConfig(cfg, state(), 'x');
  const s1 = state();
  s1.set('fc_layer.weight', { dtype: 'float16', shape: [2, 8, 1] }); // Linear ↔ 1×1 conv, any float
  for (const k of [...s1.keys()]) if (k.endsWith('num_batches_tracked')) s1.delete(k);
  checkTensorsMatchConfig(cfg, s1, 'x');
  const s2 = state();
  s2.set('fc_layer.weight', { dtype: 'float32', shape: [2, 9] });
  assert.throws(
    () => checkTensorsMatchConfig(cfg, s2, 'x'),
    /'fc_layer\.weight' is \[2, 9\] but .* needs \[2, 8\]/,
  );
  const s3 = state();
  s3.set('frontend_3d.conv3d.bn.num_batches_tracked', { dtype: 'float32', shape: [] });
  assert.throws(() => checkTensorsMatchConfig(cfg, s3, 'x'), /needs an integer tensor/);
  const s4 = state();
  s4.set('optim.x', { dtype: 'float32', shape: [1] });
  assert.throws(
    () => checkTensorsMatchConfig(cfg, s4, 'x'),
    /1 tensor\(s\) are not part of the network .* 'optim\.x'/,
  );
});

test('labels: an array of `classes` distinct non-empty strings without control characters', () => {
  assert.deepEqual(checkLabels(['a', 'b'], 2, 'x'), ['a', 'b']);
  for (const [raw, re] of [
    [{ a: 1 }, /must be a JSON array of strings/],
    ['ab', /must be a JSON array/],
    [['a'], /1 labels for 2 classes/],
    [['a', 'a'], /"a" appears twice/],
    [['a', 3], /label 1 is not a string/],
    [['a', ' '], /label 1 is empty/],
    [['a', 'b\u0000'], /control characters/],
    [['a', 'x'.repeat(300)], /300 characters long/],
  ] as [unknown, RegExp][])
    assert.throws(() => checkLabels(raw, 2, 'x'), re, JSON.stringify(raw));
});

test('pre-processing: known crop, size in [8, 1024], finite mean, finite std > 0, known keys', () => {
  assert.deepEqual(checkPreprocessing(undefined, 'x'), {
    crop: 'mouth',
    size: 88,
    mean: 0.421,
    std: 0.165,
    grey: 'bt601',
  });
  assert.deepEqual(checkPreprocessing({ crop: 'center', size: 64 }, 'x'), {
    crop: 'center',
    size: 64,
    mean: 0.421,
    std: 0.165,
    grey: 'bt601',
  });
  assert.equal(checkPreprocessing({ grey: 'torchvision' }, 'x').grey, 'torchvision');
  for (const [raw, re] of [
    [[1], /must be an object/],
    [{ crop: 'x' }, /unknown crop "x"/],
    [{ size: 4 }, /size must be an integer/],
    [{ size: 64.5 }, /size must be/],
    [{ mean: null }, /mean must be a finite number/],
    [{ std: 0 }, /std must be .* > 0/],
    [{ std: -1 }, /std must be/],
    [{ std: '1' }, /std must be/],
    [{ scale: 2 }, /unknown key 'scale'/],
    [{ grey: 'opencv' }, /unknown grey conversion "opencv" \(known: bt601, torchvision\)/],
  ] as [unknown, RegExp][])
    assert.throws(() => checkPreprocessing(raw, 'x'), re, JSON.stringify(raw));
});

test('safetensors header: tiling, offsets, shapes, dtypes, metadata', () => {
  const h = (o: Json, data: number) => {
    const j = Buffer.from(JSON.stringify(o));
    return () => parseSafetensorsHeader(j, 8 + j.length + data, 'f');
  };
  const e = (dtype: string, shape: unknown, off: unknown) => ({ dtype, shape, data_offsets: off });
  assert.equal(
    h({ a: e('F32', [2], [0, 8]), b: e('I64', [], [8, 16]), z: e('U8', [0], [16, 16]) }, 16)()
      .entries.size,
    3,
  );
  for (const [o, data, re] of [
    [{ a: e('F32', [2], [0, 8]), b: e('F32', [2], [4, 12]) }, 12, /overlap/],
    [{ a: e('F32', [2], [0, 8]) }, 12, /last 4 bytes of the file belong to no tensor/],
    [{ a: e('F32', [2], [4, 12]) }, 12, /bytes 0-4 of the data section belong to no tensor/],
    [{ a: e('F32', [2], [0, 9]) }, 12, /needs 8 bytes, offsets give 9/],
    [{ a: e('F32', [2], [-8, 0]) }, 8, /invalid data_offsets/],
    [{ a: e('F32', [2], [0.5, 8]) }, 8, /invalid data_offsets/],
    [{ a: e('F32', [1, 1, 1, 1, 1, 1, 1, 1, 2], [0, 8]) }, 8, /invalid shape/],
    [{ a: e('F32', '2', [0, 8]) }, 8, /invalid shape/],
    [{ a: e('F99', [2], [0, 8]) }, 8, /unsupported dtype "F99"/],
    [{ a: e('toString', [2], [0, 8]) }, 8, /unsupported dtype "toString"/],
    [{ a: 5 }, 0, /is not an object/],
    [{ __metadata__: { k: 1 } }, 0, /__metadata__\.k is not a string/],
    [{ __metadata__: JSON.parse('{"__proto__": "x"}') }, 0, /'__proto__' is not allowed/],
  ] as [Json, number, RegExp][])
    assert.throws(h(o, data), re, JSON.stringify(o));
  assert.throws(() => parseSafetensors(new Uint8Array(4)), SafetensorsError);
});

test('file kinds by content', () => {
  const kind = (b: Uint8Array) => sniffFileKind(b.subarray(0, 512), b.length).kind;
  assert.equal(kind(readFileSync(DEMO)), 'safetensors');
  assert.equal(kind(demoOnnx()), 'onnx');
  assert.equal(kind(torchZip()), 'pytorch-zip');
  assert.equal(kind(torchLegacy()), 'pytorch-pickle');
  assert.equal(kind(readFileSync(SAMPLE)), 'video');
  assert.equal(kind(Buffer.from('{"a": 1}\n')), 'text');
  assert.equal(kind(new Uint8Array(0)), 'empty');
  assert.equal(kind(Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0, 0, 0, 0])), 'unknown');
});

test('one weight selector: EMA over model.* over plain names (optimizer state never a weight)', () => {
  const m = (keys: string[]) => new Map(keys.map((k) => [k, k]));
  assert.equal(selectWeights(m(['model.a', 'ema.a', 'optim.a'])).prefix, 'ema.');
  assert.equal(selectWeights(m(['model.a', 'ema.a']), { ema: false }).prefix, 'model.');
  assert.deepEqual([...selectWeights(m(['a', 'optim.x'])).tensors.keys()], ['a']);
  assert.deepEqual([...selectWeights(m(['model_ema.a', 'model.a'])).tensors.keys()], ['a']);
});

test('the loaders share the validation: fine-tune (loadPretrained), resume (readCheckpoint), ONNX facts, readModelFile', async () => {
  const dir = join(work, 'unit');
  mkdirSync(dir);
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, withMeta({ labels: '{"a":1}' }));
  assert.throws(() => readModelFile(bad), /labels must be a JSON array/);
  const { loadPretrained } = await import('../src/train/model_io.js');
  const { createModel } = await import('../src/model/weights.js');
  const net = createModel(modelConfig(demoConfig), { seed: 0 });
  assert.throws(() => loadPretrained(net, bad), /labels must be a JSON array/);
  const huge = join(dir, 'huge.safetensors');
  writeFileSync(
    huge,
    withConfig((c) => {
      c.stages[0] = '1,3,1,8,8,5000000,F';
    }),
  );
  assert.throws(() => loadPretrained(net, huge), /layers = 5000000 is beyond the limit/);
  net.dispose();
  const { readCheckpoint } = await import('../src/train/checkpoint.js');
  // a training checkpoint whose EMA set does not match its config
  const ck = new Map<string, RawTensor>();
  for (const [k, t] of demo.tensors) {
    ck.set(`model.${k}`, t);
    ck.set(`ema.${k}`, k === 'fc_layer.bias' ? float32Raw(new Float32Array(11), [11]) : t);
  }
  const ckPath = join(dir, 'last.ckpt');
  writeFileSync(
    ckPath,
    serializeSafetensors(ck, { ...demo.metadata, train_state: JSON.stringify({ version: 1 }) }),
  );
  assert.throws(() => readCheckpoint(ckPath), /\(EMA weights\): tensor 'fc_layer\.bias' is \[11\]/);
  const meta = readOnnxSummary(
    withOnnxMeta(demoOnnx(), { 'eflip.labels': JSON.stringify(Array(10).fill('x')) }),
  ).metadata;
  assert.throws(() => factsFromMetadata(meta, 'm.onnx'), /label "x" appears twice/);
  assert.equal(factsFromMetadata(readOnnxSummary(demoOnnx()).metadata, 'm.onnx').classes, 10);
  // validateModelMetadata without tensors (an ONNX file's config): still bounded
  assert.throws(
    () =>
      validateModelMetadata(
        { config: JSON.stringify({ ...demoConfig, tcn: { layers: 100 } }) },
        null,
        'x',
      ),
    /tcn\.layers = 100 is beyond the limit 24/,
  );
  assert.ok(numel([2, 3]) === 6 && existsSync(DEMO));
});

test('report: cases and worst peak RSS', () => {
  console.log(
    `hostile model files: ${cases} refusals (${cliCases} through the CLI); worst peak RSS ${worst.peakMiB.toFixed(0)} MiB (${worst.label}); slowest ${slowest.ms.toFixed(0)} ms (${slowest.label})`,
  );
  assert.ok(cases >= 150, `${cases} cases`);
});
