// PyTorch checkpoint import, amplification bounds: a small file may not make `eflip import`
// walk far more than it holds.
// - the EMA search visits each dict once (a callback dict holding itself 300 times is not 300^3
//   paths).
// The file here used to hang the import with growing memory; now it imports at once (no EMA
// found, the state dict's weights), input unchanged. Files are crafted byte by byte (pickle
// opcodes from CPython Lib/pickletools.py, zip records via test/zip_helpers.ts); no torch needed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { runEflip, assertBounded, snapshot, tempDir, type CliRun } from './hostile_helpers.js';
import { zipOf } from './zip_helpers.js';
import { readSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { parseTorchCheckpoint } from '../src/io/torch_checkpoint.js';
import { emaStateDict } from '../src/io/lightning_checkpoint.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEMO = join(ROOT, 'assets', 'demo', 'model.safetensors');
const work = tempDir('eflip-hostile-bounds-');
const cases = join(work, 'cases');
const MAX_MS = 10_000;
const MAX_MIB = 600;

// ---------------------------------------------------------------- pickle writing (protocol 2)
const b = (...xs: (number | Buffer | string)[]): Buffer =>
  Buffer.concat(
    xs.map((x) =>
      typeof x === 'number' ? Buffer.from([x]) : typeof x === 'string' ? Buffer.from(x) : x,
    ),
  );
const MARK = 0x28,
  TUPLE = 0x74,
  EMPTY_TUPLE = 0x29,
  EMPTY_DICT = 0x7d,
  SETITEMS = 0x75,
  REDUCE = 0x52,
  BINPERSID = 0x51,
  NEWFALSE = 0x89,
  BINPUT = 0x71,
  BINGET = 0x68,
  STOP = 0x2e;
const PROTO2 = Buffer.from([0x80, 0x02]);
const str = (s: string): Buffer => {
  const u = Buffer.from(s);
  const n = Buffer.alloc(4);
  n.writeUInt32LE(u.length);
  return b(0x58, n, u); // BINUNICODE
};
const int = (v: number): Buffer => {
  if (v >= 0 && v < 2 ** 31) {
    const n = Buffer.alloc(4);
    n.writeInt32LE(v);
    return b(0x4a, n); // BININT
  }
  const n = Buffer.alloc(8);
  n.writeBigInt64LE(BigInt(v));
  return b(0x8a, 8, n); // LONG1
};
const global = (module: string, name: string) => b(0x63, `${module}\n${name}\n`);
const tuple = (items: Buffer[]) => b(MARK, ...items, TUPLE);
const dict = (items: [string, Buffer][]) =>
  b(EMPTY_DICT, MARK, ...items.flatMap(([k, v]) => [str(k), v]), SETITEMS);

interface View {
  key: string;
  kind: 'FloatStorage' | 'LongStorage';
  numel: number; // of the storage
  offset: number;
  shape: number[];
  stride: number[];
}
/** torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()) */
const tensor = (v: View): Buffer =>
  b(
    global('torch._utils', '_rebuild_tensor_v2'),
    MARK,
    tuple([str('storage'), global('torch', v.kind), str(v.key), str('cpu'), int(v.numel)]),
    BINPERSID,
    int(v.offset),
    tuple(v.shape.map(int)),
    tuple(v.stride.map(int)),
    NEWFALSE,
    global('collections', 'OrderedDict'),
    EMPTY_TUPLE,
    REDUCE,
    TUPLE,
    REDUCE,
  );

const contiguous = (shape: number[]) => {
  const s = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
};
const kindOf = (t: RawTensor) => (t.dtype === 'int64' ? 'LongStorage' : 'FloatStorage');

/** A Lightning-shaped checkpoint: {'epoch': 1, 'state_dict': {'model.<k>': view}, ...extra}. */
function lightningPickle(views: [string, View][], extra: [string, Buffer][] = []): Buffer {
  return b(
    PROTO2,
    dict([
      ['epoch', int(1)],
      ['state_dict', dict(views.map(([k, v]) => [`model.${k}`, tensor(v)]))],
      ...extra,
    ]),
    STOP,
  );
}
type Entry = [string, Uint8Array, number?, number?];
const archive = (pkl: Buffer, storages: Entry[]): Buffer =>
  zipOf([['archive/data.pkl', pkl], ['archive/byteorder', Buffer.from('little')], ...storages]);

// ---------------------------------------------------------------- the demo model as checkpoints
const demo = readSafetensors(DEMO);
const names = [...demo.tensors.keys()];
const cfg = JSON.parse(demo.metadata.config);
const labels = JSON.parse(demo.metadata.labels) as string[];
/** Every tensor its own stored storage, as torch.save writes them. */
const honest = (): { views: [string, View][]; storages: Entry[] } => ({
  views: names.map((k, i) => {
    const t = demo.tensors.get(k)!;
    const n = t.shape.reduce((a, x) => a * x, 1);
    return [
      k,
      {
        key: String(i),
        kind: kindOf(t),
        numel: n,
        offset: 0,
        shape: t.shape,
        stride: contiguous(t.shape),
      },
    ];
  }),
  storages: names.map((k, i) => [`archive/data/${i}`, demo.tensors.get(k)!.data]),
});
/** In ema_self_deflated_tied the first is a view of the second's storage. */
const TIED = ['frontend_3d.conv3d.bn.bias', 'frontend_3d.conv3d.bn.weight'] as const;
const EMA_SELF_KEYS = 300;

function craft(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const h = honest();
  // honest but for the EMA callback (finding 5): callbacks = {'EMA': M}, M = {'k0': M, 'k1': M, ...}
  // (BINPUT 0 / BINGET 0); every storage deflated, and one batch-norm bias a view of its weight's
  // storage (tied weights)
  const m = b(
    EMPTY_DICT,
    BINPUT,
    0,
    MARK,
    ...Array.from({ length: EMA_SELF_KEYS }, (_, i) => b(str(`k${i}`), BINGET, 0)),
    SETITEMS,
  );
  const tiedKey = String(names.indexOf(TIED[1]));
  const tied = h.views.map(([k, v]): [string, View] =>
    k === TIED[0] ? [k, { ...v, key: tiedKey }] : [k, v],
  );
  out.set(
    'ema_self_deflated_tied',
    archive(
      lightningPickle(tied, [['callbacks', dict([['EMA', m]])]]),
      h.storages.map(([n, d]) => [n, deflateRawSync(d), 8, d.length]),
    ),
  );

  return out;
}

const files = new Map<string, string>();
let inputs = new Map<string, string>();
const cfgFile = join(work, 'config.json');
const labelsFile = join(work, 'labels.txt');

before(() => {
  mkdirSync(cases, { recursive: true });
  for (const [name, bytes] of craft()) {
    const f = join(cases, `${name}.ckpt`);
    writeFileSync(f, bytes);
    files.set(name, f);
  }
  writeFileSync(cfgFile, JSON.stringify(cfg));
  writeFileSync(labelsFile, labels.join('\n') + '\n');
  inputs = snapshot(work);
});

async function importCase(
  name: string,
  extra: string[] = ['--config', cfgFile, '--labels', labelsFile],
): Promise<{ r: CliRun; out: string }> {
  const outDir = join(work, 'out', name);
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'm.safetensors');
  const r = await runEflip(['import', files.get(name)!, '--out', out, ...extra], {
    cwd: outDir,
    timeoutMs: 30_000,
  });
  return { r, out };
}

function assertInputsUnchanged(): void {
  const now = snapshot(work);
  for (const [k, v] of inputs) assert.equal(now.get(k), v, `${k} changed`);
}

/** The imported model holds the demo model's weights (tied ones: the tensor they are tied to). */
function assertDemoWeights(out: string, tiedTo: Record<string, string> = {}): void {
  const got = readSafetensors(out).tensors;
  assert.equal(got.size, demo.tensors.size);
  for (const [k, t] of got) {
    const want = demo.tensors.get(tiedTo[k] ?? k)!;
    assert.deepEqual(Buffer.from(t.data), Buffer.from(want.data), k);
  }
}

test(`import of a checkpoint whose EMA callback dict holds itself ${EMA_SELF_KEYS} times ends at once, with raw weights (was ${EMA_SELF_KEYS}^3 paths: a hang)`, async () => {
  const { r, out } = await importCase('ema_self_deflated_tied');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /weights: raw \(state_dict; the checkpoint carries no EMA weights\)/);
  assertBounded(r, { maxMs: MAX_MS, maxMiB: MAX_MIB, label: 'ema_self_deflated_tied' });
  assertDemoWeights(out, { [TIED[0]]: TIED[1] });
  assertInputsUnchanged();
});

// ---------------------------------------------------------------- the EMA search, in process

test('EMA search: found through a dict that holds itself; a self-holding dict with no tensors, or past 200k items, is no EMA; fast', () => {
  const t0 = performance.now();
  const ck = parseTorchCheckpoint(
    archive(lightningPickle(honest().views.slice(0, 3)), honest().storages.slice(0, 3)),
  );
  const sd = (ck.root as Map<string, unknown>).get('state_dict') as Map<string, unknown>;
  const m = new Map<string, unknown>();
  for (let i = 0; i < 2000; i++) m.set(`k${i}`, m); // 2000^3 paths to depth 3
  const withEma = new Map<string, unknown>([...m, ['ema_state_dict', sd]]);
  withEma.set('me', withEma);
  const root = (cb: unknown) => new Map<string, unknown>([['callbacks', new Map([['EMA', cb]])]]);
  assert.equal(emaStateDict(root(m)), null);
  const found = emaStateDict(root(withEma));
  assert.equal(found?.dict, sd);
  assert.equal(found?.foundAt, "callbacks['EMA']['ema_state_dict']");
  const wide = new Map<string, unknown>();
  for (let i = 0; i < 200_001; i++) wide.set(`x${i}`, i);
  wide.set('ema_state_dict', sd);
  assert.equal(emaStateDict(root(wide)), null);
  assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
});
