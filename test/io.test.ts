// safetensors, zip container, restricted unpickler and torch.save checkpoint reader, checked
// against files written by real PyTorch (tools/torch_ref/io_fixtures.py, lipreader.py).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import {
  readSafetensors,
  writeSafetensors,
  parseSafetensors,
  serializeSafetensors,
  rawToFloat32,
  float32Raw,
  SafetensorsError,
} from '../src/io/safetensors.js';
import { unpickle, PickleError, PickleObject, PickleGlobal } from '../src/io/pickle.js';
import {
  readTorchCheckpoint,
  extractStateDict,
  parseTorchCheckpoint,
  TorchTensorRef,
  CheckpointError,
} from '../src/io/torch_checkpoint.js';
import { ZipReader } from '../src/io/zip.js';
import { zipOf } from './zip_helpers.js';
import { hasTorch, py, tempDir } from './model_helpers.js';

const { dir, cleanup } = tempDir('io');
after(cleanup);
const noTorch = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';

test('safetensors: round trip with metadata, dtypes and atomic write', () => {
  const path = join(dir, 'a.safetensors');
  const i64 = new BigInt64Array([1n, -2n, 3n]);
  writeSafetensors(
    path,
    [
      ['w', float32Raw([1, 2, 3, 4, 5, 6], [2, 3])],
      ['n', { dtype: 'int64', shape: [3], data: new Uint8Array(i64.buffer) }],
      ['s', float32Raw([7], [])],
    ],
    { config: JSON.stringify({ a: 1 }), labels: '["x","y"]' },
  );
  assert.deepEqual(readdirTmp(), [], 'no temp file left behind');
  const f = readSafetensors(path);
  assert.deepEqual([...f.tensors.keys()], ['w', 'n', 's']);
  assert.deepEqual(f.tensors.get('w')!.shape, [2, 3]);
  assert.deepEqual([...rawToFloat32(f.tensors.get('w')!)], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...rawToFloat32(f.tensors.get('n')!)], [1, -2, 3]);
  assert.deepEqual(f.tensors.get('s')!.shape, []);
  assert.equal(f.metadata.labels, '["x","y"]');
  // header is 8-byte aligned
  const b = readFileSync(path);
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  assert.equal(n % 8, 0);
});

function readdirTmp(): string[] {
  return readdirSync(dir).filter((f) => f.includes('.tmp-'));
}

test('safetensors: malformed files give clear errors', () => {
  assert.throws(() => parseSafetensors(new Uint8Array(4)), SafetensorsError);
  const good = serializeSafetensors([['w', float32Raw([1, 2], [2])]]);
  assert.throws(() => parseSafetensors(good.subarray(0, good.length - 4)), /data_offsets|bytes/);
  const bad = good.slice();
  new DataView(bad.buffer).setBigUint64(0, 1n << 40n, true);
  assert.throws(() => parseSafetensors(bad), /header length/);
  assert.throws(
    () => serializeSafetensors([['w', { dtype: 'float32', shape: [3], data: new Uint8Array(8) }]]),
    /needs 12 bytes/,
  );
});

test(
  'safetensors: python reference reads what we write and we read what it writes',
  { skip: noTorch },
  () => {
    const p = join(dir, 'py.safetensors');
    py('lipreader.py', ['init', '--variant', 'T', '--classes', '10', '--out', p]);
    const f = readSafetensors(p);
    const cfg = JSON.parse(f.metadata.config);
    assert.equal(cfg.classes, 10);
    assert.deepEqual(f.tensors.get('fc_layer.weight')!.shape, [10, 463]);
    assert.equal(f.tensors.get('frontend_3d.conv3d.bn.num_batches_tracked')!.dtype, 'int64');
    // write it back through our writer; python must load it strictly
    const q = join(dir, 'back.safetensors');
    writeSafetensors(q, f.tensors, f.metadata);
    const x = join(dir, 'x.safetensors');
    writeSafetensors(x, [
      ['x', float32Raw(new Array(1 * 1 * 2 * 32 * 32).fill(0.5), [1, 1, 2, 32, 32])],
    ]);
    py('lipreader.py', [
      'forward',
      '--weights',
      q,
      '--input',
      x,
      '--out',
      join(dir, 'y.safetensors'),
    ]);
    const y = rawToFloat32(readSafetensors(join(dir, 'y.safetensors')).tensors.get('logp')!);
    assert.equal(y.length, 10);
    assert.ok(Math.abs(y.reduce((s, v) => s + Math.exp(v), 0) - 1) < 1e-5);
  },
);

test(
  'torch checkpoint: dtypes, strides, offsets, shared storages and python objects',
  { skip: noTorch },
  () => {
    const p = join(dir, 'misc.pt');
    py('io_fixtures.py', ['misc', '--out', p]);
    const expect = JSON.parse(readFileSync(p + '.json', 'utf8'));
    const ck = readTorchCheckpoint(p);
    const root = ck.root as Map<string, any>;
    const tensors = root.get('tensors') as Map<string, TorchTensorRef>;
    for (const [k, e] of Object.entries<any>(expect)) {
      const t = tensors.get(k)!;
      assert.ok(t instanceof TorchTensorRef, k);
      const raw = t.materialize();
      assert.equal(raw.dtype, e.dtype, k);
      assert.deepEqual(raw.shape, e.shape, k);
      const got = [...rawToFloat32(raw)];
      assert.equal(got.length, e.values.length, k);
      for (let i = 0; i < got.length; i++)
        assert.ok(
          Math.abs(got[i] - e.values[i]) <= 1e-6 * Math.max(1, Math.abs(e.values[i])),
          `${k}[${i}] ${got[i]} vs ${e.values[i]}`,
        );
    }
    assert.equal(
      tensors.get('transposed')!.storage,
      tensors.get('shares_base')!.storage,
      'views share one storage',
    );
    const ex = root.get('extras') as Map<unknown, any>;
    assert.equal(ex.get('int'), 7);
    assert.equal(ex.get('neg'), -123456);
    assert.equal(ex.get('big'), 2n ** 70n);
    assert.equal(ex.get('float'), 0.25);
    assert.equal(ex.get('str'), 'héllo');
    assert.deepEqual([...(ex.get('bytes') as Uint8Array)], [0, 1, 255]);
    assert.deepEqual([...ex.get('tuple')], [1, 'a', null]);
    assert.deepEqual(ex.get('list'), [1, [2, 3]]);
    assert.deepEqual([...ex.get('set')], [3]);
    assert.equal(ex.get('(1, 2)'), 'tuple key');
    const hp = ex.get('hp');
    assert.ok(hp instanceof PickleObject);
    assert.equal(hp.cls.name, 'HParams');
    assert.equal((hp.state as Map<string, unknown>).get('name'), 'x');
  },
);

test(
  'torch checkpoint: Lightning-style ckpt → state dict with model. prefix stripped',
  { skip: noTorch },
  () => {
    const w = join(dir, 'w.safetensors');
    py('lipreader.py', ['init', '--variant', 'T', '--classes', '7', '--out', w]);
    const c = join(dir, 'l.ckpt');
    py('io_fixtures.py', ['lightning', '--weights', w, '--out', c]);
    const sd = extractStateDict(readTorchCheckpoint(c).root);
    assert.equal(sd.foundAt, 'state_dict');
    assert.equal(sd.strippedPrefix, 'model.');
    assert.equal(sd.info.epoch, '12');
    const ref = readSafetensors(w).tensors;
    assert.equal(sd.tensors.size, ref.size);
    for (const [k, r] of ref) {
      const t = sd.tensors.get(k);
      assert.ok(t, `missing ${k}`);
      const m = t.materialize();
      assert.deepEqual(m.shape, r.shape, k);
      assert.deepEqual(Buffer.from(m.data), Buffer.from(r.data), k);
    }
  },
);

test(
  'torch checkpoint: a pickle that would call os.system runs nothing and imports nothing',
  { skip: noTorch },
  () => {
    const marker = join(dir, 'PWNED');
    const p = join(dir, 'evil.pt');
    py('io_fixtures.py', ['evil', '--out', p, '--marker', marker]);
    assert.equal(existsSync(marker), false);
    const ck = readTorchCheckpoint(p);
    const sdv = (ck.root as Map<string, any>).get('state_dict').get('x');
    assert.ok(sdv instanceof PickleObject);
    assert.equal(sdv.cls.qualname, 'posix.system'); // recorded, never resolved
    assert.throws(() => extractStateDict(ck.root), /no state dict found/);
    assert.equal(existsSync(marker), false, 'os.system was not run');
  },
);

test(
  'torch checkpoint: the legacy non-zip format written by torch.save is rejected with a way out',
  { skip: noTorch },
  () => {
    const p = join(dir, 'legacy.pt');
    py('io_fixtures.py', ['legacy', '--out', p]);
    assert.throws(
      () => readTorchCheckpoint(p),
      /legacy \(pre-1\.6, non-zip\) torch\.save format is not supported; re-save/,
    );
  },
);

test('unpickler: hand-written protocol-0 GLOBAL/REDUCE stays inert; bad opcodes and truncation fail clearly', () => {
  const evil = Buffer.from("cos\nsystem\n(S'touch /tmp/x'\ntR.", 'latin1');
  const v = unpickle(evil);
  assert.ok(v instanceof PickleObject);
  assert.ok(v.cls instanceof PickleGlobal);
  assert.deepEqual(v.args, ['touch /tmp/x']);
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0xff])), /unknown pickle opcode 0xff/);
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x58, 9, 0, 0, 0, 0x61])), PickleError);
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x2e])), /stack underflow/);
  assert.throws(() => unpickle(Buffer.from([0x80, 0x09])), /protocol 9/);
  // protocol 2 dict/list/tuple/int/float basics
  const d = unpickle(
    Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 5, 0x73, 0x2e]),
  ) as Map<string, number>;
  assert.equal(d.get('a'), 5);
});

test('checkpoint reader: legacy, non-zip and corrupt files are rejected with a message', () => {
  assert.throws(
    () => parseTorchCheckpoint(Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc])),
    /legacy .*not supported/,
  );
  assert.throws(
    () => parseTorchCheckpoint(Buffer.from('hello world')),
    /not a PyTorch zip checkpoint/,
  );
  assert.throws(
    () => parseTorchCheckpoint(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0])),
    /too short to be a zip/,
  );
  assert.ok(new CheckpointError('x') instanceof Error);
});

test('zip reader: deflated entries via node:zlib', () => {
  // a one-entry zip with method 8
  const payload = Buffer.from([0x80, 0x02, 0x4b, 42, 0x2e]);
  const zip = zipOf([['archive/data.pkl', deflateRawSync(payload), 8, payload.length]]);
  const z = new ZipReader(zip);
  assert.deepEqual([...z.read('archive/data.pkl', 1 << 20)], [...payload]);
  assert.equal(parseTorchCheckpoint(zip).root, 42);
  writeFileSync(join(dir, 'tiny.zip'), zip);
});

test('unpickler and zip reader: bombs are refused before the work (no torch needed)', () => {
  const t0 = performance.now();
  // 5M DUPs: the stack limit, not the heap, stops it
  const dup = Buffer.alloc(5 << 20, 0x32);
  dup[0] = 0x80;
  dup[1] = 0x02;
  dup[2] = 0x4e;
  assert.throws(() => unpickle(dup), /limit of \d+ stack values/);
  // a tuple key over a 40-deep shared list DAG (2^40 paths): refused, not walked
  const dag = [0x80, 0x02, 0x5d, 0x71, 0];
  for (let i = 0; i < 40; i++) dag.push(0x5d, 0x68, i, 0x61, 0x68, i, 0x61, 0x71, i + 1);
  assert.throws(
    () => unpickle(Buffer.from([...dag, 0x7d, 0x68, 40, 0x85, 0x4e, 0x73, 0x2e])),
    /tuple holding a list/,
  );
  const tdag = [0x80, 0x02, 0x4e, 0x71, 0];
  for (let i = 0; i < 40; i++) tdag.push(0x68, i, 0x68, i, 0x86, 0x71, i + 1);
  assert.throws(
    () => unpickle(Buffer.from([...tdag, 0x7d, 0x68, 40, 0x4e, 0x73, 0x2e])),
    /text exceeds 65536 characters/,
  );
  // tuple keys of primitives keep their text; LONG4 and BINUNICODE lengths are checked first
  const k = unpickle(
    Buffer.from([0x80, 0x02, 0x7d, 0x4b, 1, 0x4b, 2, 0x86, 0x4e, 0x73, 0x2e]),
  ) as Map<unknown, unknown>;
  assert.deepEqual([...k.keys()], ['(1, 2)']);
  assert.throws(
    () => unpickle(Buffer.from([0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0x7f])),
    /LONG4\) of 2147483647 bytes/,
  );
  assert.throws(
    () => unpickle(Buffer.from([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0xff])),
    /need 4294967295 bytes/,
  );
  // zip: duplicate names, a declared size over the limit, a stream inflating past its declared size
  const pkl = Buffer.from([0x80, 0x02, 0x4e, 0x2e]);
  assert.throws(
    () =>
      new ZipReader(
        zipOf([
          ['a', pkl, 0, 4],
          ['a', pkl, 0, 4],
        ]),
      ),
    /two entries named 'a'/,
  );
  const zeros = deflateRawSync(Buffer.alloc(64 << 20));
  assert.throws(
    () => new ZipReader(zipOf([['big', zeros, 8, 64 << 20]])).read('big', 1 << 20),
    /declares 67108864 bytes, over the 1048576-byte limit/,
  );
  assert.throws(
    () => new ZipReader(zipOf([['lie', zeros, 8, 100]])).read('lie', 1 << 20),
    /inflates past its declared 100 bytes/,
  );
  assert.throws(() => parseTorchCheckpoint(zipOf([['archive/data/0', pkl, 0, 4]])), /no data\.pkl/);
  assert.ok(performance.now() - t0 < 10_000, `took ${performance.now() - t0} ms`);
});

test('makeDirs: creates missing parents; a procfs path (where Node recursive mkdir spins forever) and a path through a file fail at once, naming the problem', async () => {
  const { makeDirs } = await import('../src/io/make_dirs.js');
  const { mkdtempSync, statSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'eflip-makedirs-'));
  try {
    makeDirs(join(dir, 'a', 'b', 'c'));
    assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory());
    makeDirs(join(dir, 'a', 'b', 'c')); // already there: fine
    writeFileSync(join(dir, 'f'), 'x');
    assert.throws(() => makeDirs(join(dir, 'f', 'g')), { code: 'ENOTDIR' });
    const t0 = performance.now();
    assert.throws(() => makeDirs('/proc/self/eflip-cache/landmarks'), { code: 'ENOENT' });
    assert.ok(performance.now() - t0 < 1000, 'bounded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
