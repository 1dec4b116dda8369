// PyTorch checkpoint import, amplification bounds: a small file may not make `eflip import`
// read, inflate, materialise or walk far more than it holds.
// - storages: all deflated entries of an archive inflate to at most 64 MiB + 8 × the file size
//   (a 10-element view of a 96 MiB deflated storage is refused), and zip entries may not share
//   bytes (four names on one deflate stream are refused);
// - views: the tensors of a checkpoint materialise at most 64 MiB + 4 × the file size (stride-0
//   views of a 1-element storage asking for a 300k-class model are refused before it is built);
// - the EMA search visits each dict once (a callback dict holding itself 300 times is not 300^3
//   paths).
// Each file here was accepted before (after seconds and hundreds of MB to GBs); now it is refused
// on one line, fast, in bounded memory, input unchanged and nothing written, while the same
// checkpoint without the trick still imports. Files are crafted byte by byte (pickle opcodes from
// CPython Lib/pickletools.py, zip records via test/zip_helpers.ts); no torch needed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zc, deflateRawSync } from 'node:zlib';
import {
  runEflip,
  assertRefused,
  assertBounded,
  snapshot,
  tempDir,
  type CliRun,
} from './hostile_helpers.js';
import { zipOf, withAliases } from './zip_helpers.js';
import { readSafetensors, type RawTensor } from '../src/io/safetensors.js';
import {
  parseTorchCheckpoint,
  extractStateDict,
  checkLoad,
  TorchTensorRef,
} from '../src/io/torch_checkpoint.js';
import { ZipReader } from '../src/io/zip.js';
import { emaStateDict } from '../src/io/lightning_checkpoint.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEMO = join(ROOT, 'assets', 'demo', 'model.safetensors');
const work = tempDir('eflip-hostile-bounds-');
const cases = join(work, 'cases');
const MAX_MS = 10_000;
const MAX_MIB = 600;
const MiB = 1 << 20;

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

/** float32 values of bytes (copied: a storage view may be unaligned) */
const f32 = (u: Uint8Array) => new Float32Array(new Uint8Array(u).buffer);
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

/** A raw deflate stream of `prefix` then `mib` MiB of zeros, without holding the zeros. */
function deflatedZeros(prefix: Uint8Array, mib: number): Buffer {
  const flush = { level: 9, finishFlush: zc.Z_FULL_FLUSH }; // each part ends byte-aligned, history reset
  const unit = deflateRawSync(Buffer.alloc(MiB), flush);
  return Buffer.concat([
    deflateRawSync(prefix, flush),
    ...Array<Buffer>(mib).fill(unit),
    deflateRawSync(Buffer.alloc(0)), // the final block
  ]);
}

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
const BIASES = [
  'fc_layer.bias',
  'frontend_3d.conv3d.conv3d.bias',
  'frontend_3d.conv3d.bn.bias',
  'frontend_3d.conv3d.bn.weight',
];
/** In ema_self_deflated_tied the first is a view of the second's storage. */
const TIED = ['frontend_3d.conv3d.bn.bias', 'frontend_3d.conv3d.bn.weight'] as const;
const STRIDE0_CLASSES = 300_000;
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

  // finding 3A: fc_layer.bias is a 10-element view of a 96 MiB deflated storage (~100 KB of deflate)
  const fi = names.indexOf('fc_layer.bias');
  const bias = demo.tensors.get('fc_layer.bias')!.data;
  const bigBytes = bias.length + 96 * MiB;
  out.set(
    'bigstor_96M',
    archive(
      lightningPickle(
        h.views.map(([k, v]): [string, View] =>
          k === 'fc_layer.bias' ? [k, { ...v, numel: bigBytes / 4 }] : [k, v],
        ),
      ),
      h.storages.map((e, i): Entry =>
        i === fi ? [e[0], deflatedZeros(bias, 96), 8, bigBytes] : e,
      ),
    ),
  );

  // finding 3B: four storages of 8 MiB each, one deflate stream named by four central headers
  const big = 8 * MiB;
  const keys = BIASES.map((k) => String(names.indexOf(k)));
  const pkl = lightningPickle(
    h.views.map(([k, v]): [string, View] =>
      BIASES.includes(k) ? [k, { ...v, numel: big / 4 }] : [k, v],
    ),
  );
  const stored = h.storages.filter((_, i) => !keys.includes(String(i)));
  const zip = archive(pkl, [
    ...stored,
    [`archive/data/${keys[0]}`, deflatedZeros(new Uint8Array(0), 8), 8, big],
  ]);
  out.set(
    'overlap_4x8M',
    withAliases(
      zip,
      `archive/data/${keys[0]}`,
      keys.slice(1).map((k) => `archive/data/${k}`),
    ),
  );

  // finding 4: every tensor a stride-0 view of a 1-element storage, fc_layer for 300k classes
  const one = (t: RawTensor) => (t.dtype === 'int64' ? '1' : '0');
  out.set(
    'stride0_300k',
    archive(
      lightningPickle(
        names.map((k) => {
          const t = demo.tensors.get(k)!;
          const shape = k.startsWith('fc_layer.')
            ? [STRIDE0_CLASSES, ...t.shape.slice(1)]
            : t.shape;
          return [
            k,
            {
              key: one(t),
              kind: kindOf(t),
              numel: 1,
              offset: 0,
              shape,
              stride: shape.map(() => 0),
            },
          ];
        }),
      ),
      [
        ['archive/data/0', Buffer.from(new Float32Array([0.01]).buffer)],
        ['archive/data/1', Buffer.from(new BigInt64Array([0n]).buffer)],
      ],
    ),
  );

  return out;
}

const files = new Map<string, string>();
let inputs = new Map<string, string>();
const cfgFile = join(work, 'config.json');
const labelsFile = join(work, 'labels.txt');
const cfg300k = join(work, 'config300k.json');
const labels300k = join(work, 'labels300k.txt');

before(() => {
  mkdirSync(cases, { recursive: true });
  for (const [name, bytes] of craft()) {
    const f = join(cases, `${name}.ckpt`);
    writeFileSync(f, bytes);
    files.set(name, f);
  }
  writeFileSync(cfgFile, JSON.stringify(cfg));
  writeFileSync(labelsFile, labels.join('\n') + '\n');
  writeFileSync(cfg300k, JSON.stringify({ ...cfg, classes: STRIDE0_CLASSES }));
  writeFileSync(
    labels300k,
    Array.from({ length: STRIDE0_CLASSES }, (_, i) => `w${i}`).join('\n') + '\n',
  );
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

test(`import of a checkpoint whose EMA callback dict holds itself ${EMA_SELF_KEYS} times ends at once, with raw weights (was ${EMA_SELF_KEYS}^3 paths: a hang); deflated storages and tied weights stay within the bounds`, async () => {
  const { r, out } = await importCase('ema_self_deflated_tied');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /weights: raw \(state_dict; the checkpoint carries no EMA weights\)/);
  assertBounded(r, { maxMs: MAX_MS, maxMiB: MAX_MIB, label: 'ema_self_deflated_tied' });
  assertDemoWeights(out, { [TIED[0]]: TIED[1] });
  assertInputsUnchanged();
});

for (const [name, what, message, extra] of [
  [
    'bigstor_96M',
    'a 10-element view of a 96 MiB deflated storage (~600 KB file; was read whole)',
    /bigstor_96M\.ckpt: zip entry 'archive\/data\/\d+' would inflate to 100663336 bytes from a \d+-byte file, over the \d+-byte limit \(64 MiB \+ 8 × the file's size; torch\.save stores its entries uncompressed\): a zip bomb/,
    undefined,
  ],
  [
    'overlap_4x8M',
    'four storages named on one local header and deflate stream (was inflated four times)',
    /overlap_4x8M\.ckpt: zip entry 'archive\/data\/\d+' \(at offset \d+, \d+ bytes with its header\) overlaps entry 'archive\/data\/\d+' at offset \d+ \(corrupt or tampered archive\)/,
    undefined,
  ],
  [
    'stride0_300k',
    'stride-0 views of two 1-element storages shaped as a 300k-class model (~23 KB file; was built and written, 77 MB)',
    /stride0_300k\.ckpt: the weights to load would materialise \d+ bytes from a \d+-byte file, over the \d+-byte limit \(64 MiB \+ 4 × the file's size\): views repeating the stored bytes \(stride 0 or overlapping\)/,
    ['--config', cfg300k, '--labels', labels300k],
  ],
] as const) {
  test(`import refuses ${what}: one line, < ${MAX_MS / 1000} s, < ${MAX_MIB} MiB, nothing written`, async () => {
    const { r, out } = await importCase(name, extra ? [...extra] : undefined);
    assertRefused(r, message, { code: 1, maxMs: MAX_MS, maxMiB: MAX_MIB, label: name });
    assert.equal(existsSync(out), false, `${name}: an output was written`);
    assertInputsUnchanged();
  });
}

// ---------------------------------------------------------------- the readers, in process

test('zip reader: entries sharing bytes are refused; so is data running into the next entry', () => {
  const a = Buffer.from('a'.repeat(64)),
    c = Buffer.from('c'.repeat(64));
  const zip = zipOf([
    ['a', a],
    ['c', c],
  ]);
  assert.throws(
    () => new ZipReader(withAliases(zip, 'a', ['b'])),
    /zip entry '(a|b)' \(at offset 0, 95 bytes with its header\) overlaps entry '(a|b)' at offset 0/,
  );
  // the central directory is honest, but the local header of 'a' claims 16 bytes of extra field:
  // its data would run 16 bytes into 'c'
  const shifted = Buffer.from(zip);
  shifted.writeUInt16LE(16, 28);
  const z = new ZipReader(shifted);
  assert.throws(
    () => z.read('a', 1 << 20),
    /data of zip entry 'a' \(offset 47, 64 bytes\) runs past offset 95/,
  );
  assert.ok(Buffer.from(z.read('c', 1 << 20)).equals(c));
});

test('zip reader: deflated entries inflate to at most 64 MiB + 8 × the file size in all', () => {
  const zip = zipOf([
    ['x', deflatedZeros(new Uint8Array(0), 40), 8, 40 * MiB],
    ['y', deflatedZeros(new Uint8Array(0), 40), 8, 40 * MiB],
  ]);
  const z = new ZipReader(zip);
  assert.equal(z.maxInflated, 64 * MiB + 8 * zip.length);
  assert.equal(z.read('x', 64 * MiB).length, 40 * MiB); // alone under the limit
  assert.throws(
    () => z.read('y', 64 * MiB),
    /zip entry 'y' would inflate to 41943040 bytes \(83886080 in all\) from a \d+-byte file, over the \d+-byte limit/,
  );
});

test('tensor views: what all views of a checkpoint materialise is bounded by 64 MiB + 4 × the file size; tied views under it load', () => {
  const storage: Entry = ['archive/data/0', Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)];
  const view = (shape: number[], stride: number[]): View => ({
    key: '0',
    kind: 'FloatStorage',
    numel: 4,
    offset: 0,
    shape,
    stride,
  });
  const pkl = b(
    PROTO2,
    dict([
      ['w', tensor(view([4], [1]))],
      ['tied', tensor(view([2, 4], [0, 1]))],
      ['huge', tensor(view([20 * MiB], [0]))], // 80 MiB
    ]),
    STOP,
  );
  const ck = parseTorchCheckpoint(archive(pkl, [storage]), 'views.pt');
  const sd = extractStateDict(ck.root);
  const t = (k: string) => sd.tensors.get(k) as TorchTensorRef;
  assert.deepEqual(f32(t('tied').materialize().data), new Float32Array([1, 2, 3, 4, 1, 2, 3, 4]));
  assert.deepEqual(f32(t('w').materialize().data), new Float32Array([1, 2, 3, 4]));
  checkLoad([t('w'), t('tied')]);
  assert.throws(
    () => checkLoad([t('w'), t('huge')], 'the weights to load'),
    /views\.pt: the weights to load would materialise 83886096 bytes \(83886144 in all\) from a \d+-byte file, over the \d+-byte limit \(64 MiB \+ 4 × the file's size\)/,
  );
  assert.throws(
    () => t('huge').materialize(),
    /views\.pt: tensor float32\[20971520\] would materialise 83886080 bytes \(83886128 in all\)/,
  );
});

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
