// Issue #16, PyTorch checkpoint import: every hostile .ckpt (pickle VM bombs, key-hashing DAGs,
// zip bombs, lying sizes, stride-0 views, truncations, unsupported opcodes) is refused by the
// real CLI with one line naming the problem, fast, in bounded memory, with the input unchanged
// and no output written; real torch.save checkpoints (deflated too, with huge unused views)
// still import. The files are crafted at test time by tools/torch_ref/hostile_ckpt.py.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  runEflip,
  assertRefused,
  assertBounded,
  snapshot,
  tempDir,
  worst,
  type CliRun,
} from './hostile_helpers.js';
import { hasTorch, py } from './model_helpers.js';
import { readSafetensors } from '../src/io/safetensors.js';

const noTorch = hasTorch() ? false : 'python3-torch not available at /usr/bin/python3';
const root = tempDir('eflip-hostile-pickle-');
const cases = join(root, 'cases');
const weights = join(root, 'w.safetensors');
const marker = join(root, 'PWNED');
const MAX_MS = 10_000;
const MAX_MIB = 600;
let inputs = new Map<string, string>();
const runs: { name: string; ms: number; peakMiB: number; code: number | null }[] = [];

before(() => {
  if (noTorch) return;
  py('lipreader.py', ['init', '--variant', 'T', '--classes', '7', '--seed', '3', '--out', weights]);
  py('hostile_ckpt.py', ['--weights', weights, '--dir', cases, '--marker', marker]);
  inputs = snapshot(cases);
});

/** Runs `eflip import <case>.ckpt --out <fresh dir>/m.safetensors`. */
async function importCase(name: string, extra: string[] = []): Promise<{ r: CliRun; out: string }> {
  const file = join(cases, `${name}.ckpt`);
  assert.ok(existsSync(file), `case ${name} was not generated`);
  const outDir = join(root, 'out', name);
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'm.safetensors');
  const r = await runEflip(['import', file, '--out', out, ...extra], {
    cwd: outDir,
    timeoutMs: 60_000,
  });
  runs.push({ name, ms: r.ms, peakMiB: r.peakMiB, code: r.code });
  return { r, out };
}

function assertInputUnchanged(name: string): void {
  const now = snapshot(cases);
  assert.equal(now.get(`${name}.ckpt`), inputs.get(`${name}.ckpt`), `${name}.ckpt changed`);
}

// case → what the one-line refusal must name
const REFUSED: [string, RegExp][] = [
  // the pickle VM
  [
    'dup_bomb_300M',
    /zip entry 'archive\/data\.pkl' declares 314572803 bytes, over the 268435456-byte limit/,
  ],
  ['dup_stack_6M', /pickle exceeds the limit of \d+ stack values/],
  ['dup_pop_steps', /pickle exceeds the limit of \d+ steps/],
  ['objects_1100k_dicts', /pickle exceeds the limit of \d+ objects/],
  ['items_5M', /pickle exceeds the limit of \d+ container items/],
  ['memo_2300k', /pickle exceeds the limit of \d+ memo entries/],
  ['all_limits_at_once', /no state dict found: the checkpoint holds list/], // memory stays bounded with every limit nearly reached
  ['call_amplify', /pickle exceeds the limit of \d+ (container items|steps)/],
  ['unknown_opcode', /unknown pickle opcode 0xff at offset 3/],
  ['protocol5_oob', /out-of-band buffers/],
  ['binunicode_huge', /truncated pickle: need 4294967295 bytes/],
  ['long4_huge_len', /LONG4\) of 2147483647 bytes .* exceeds the 4096-byte limit/],
  ['text_int_1M_digits', /integer of 1048576 digits .* exceeds the 4096-digit limit/],
  ['self_ref_memo', /no state dict found: the checkpoint holds dict with keys a, b/],
  ['list_key_self', /a dict key is a list, which Python cannot hash/],
  // keys over a 40-deep shared DAG (2^40 paths)
  ['dag_tuple_key', /a dict key is a tuple holding a list/],
  ['dag_list_key', /a dict key is a list/],
  ['dag_nested_tuple_key', /a dict key is a tuple whose text exceeds 65536 characters/],
  ['deep_tuple_key', /a dict key nests tuples more than 100 deep/],
  ['dag_list_value', /no state dict found: the checkpoint holds dict with keys k/],
  // the zip container and declared sizes
  [
    'zipbomb_pkl_declared',
    /zip entry 'archive\/data\.pkl' declares 4718592000 bytes, over the 268435456-byte limit/,
  ],
  ['zipbomb_pkl_lying', /zip entry 'archive\/data\.pkl' inflates past its declared 1000 bytes/],
  ['zipbomb_storage_lying', /zip entry 'archive\/data\/\d+' inflates past its declared 28 bytes/],
  ['storage_declared_4G', /cannot infer the model config/], // the 4 GiB storage is never read
  [
    'stride0_wanted_misfit',
    /fc_layer\.bias: shape \[1073741824\] does not match the model's \[7\]/,
  ],
  [
    'storage_size_mismatch',
    /storage 'archive\/data\/0' declares 1000 float32 elements \(4000 bytes\) but the archive entry holds 16 bytes/,
  ],
  [
    'view_outside_storage',
    /tensor \[3,3\] \(offset 2, stride \[3,1\]\) reaches outside its storage of 4 elements/,
  ],
  ['view_negative_stride', /negative size, stride or offset/],
  ['view_rank_1000', /tensor size: 1000 dimensions, more than torch's 64/],
  ['storage_missing', /storage 'archive\/data\/7' missing from the archive/],
  ['truncated_zip', /no zip end-of-central-directory record \(truncated/],
  ['entry_count_lie', /zip declares 65534 entries but its central directory has only 100 bytes/],
  ['duplicate_entries', /zip holds two entries named 'archive\/data\.pkl'/],
  ['no_data_pkl', /zip has no data\.pkl/],
  ['legacy_truncated', /legacy \(pre-1\.6, non-zip\) torch\.save format is not supported; re-save/],
  ['empty_file', /not a PyTorch zip checkpoint/],
];

for (const [name, message] of REFUSED) {
  test(
    `import refuses ${name}: one line, < ${MAX_MS / 1000} s, < ${MAX_MIB} MiB, input unchanged, nothing written`,
    { skip: noTorch },
    async () => {
      const { r, out } = await importCase(name);
      assertRefused(r, message, { code: 1, maxMs: MAX_MS, maxMiB: MAX_MIB, label: name });
      assert.equal(existsSync(out), false, `${name}: an output was written`);
      assertInputUnchanged(name);
    },
  );
}

test(
  "pickles that run `touch MARKER` under Python's pickle.loads (18 routes to a call) run nothing in import",
  { skip: noTorch },
  async () => {
    const names = readdirSync(cases)
      .filter((f) => f.startsWith('exec_'))
      .map((f) => f.replace(/\.ckpt$/, ''));
    assert.ok(names.length >= 18, `only ${names.length} payloads generated`);
    for (const name of names) {
      const { r, out } = await importCase(name);
      assertRefused(
        r,
        /no state dict found: the checkpoint holds (<[\w.]+ object>|dict with keys <[\w.]+ object>)|cannot call a non-global|tensor without a storage/,
        { code: 1, maxMs: MAX_MS, maxMiB: MAX_MIB, label: name },
      );
      assert.equal(existsSync(marker), false, `${name}: the payload ran`);
      assert.equal(existsSync(out), false, `${name}: an output was written`);
      assertInputUnchanged(name);
    }
  },
);

test(
  'import refuses a directory and a FIFO named like a checkpoint, without blocking',
  { skip: noTorch },
  async () => {
    const odd = join(root, 'odd');
    mkdirSync(join(odd, 'dir.ckpt'), { recursive: true });
    execFileSync('mkfifo', [join(odd, 'fifo.ckpt')]);
    for (const name of ['dir.ckpt', 'fifo.ckpt']) {
      const out = join(odd, 'm.safetensors');
      const r = await runEflip(['import', join(odd, name), '--out', out], {
        cwd: odd,
        timeoutMs: 30_000,
      });
      assertRefused(r, /not a regular file/, {
        code: 1,
        maxMs: MAX_MS,
        maxMiB: MAX_MIB,
        label: name,
      });
      assert.equal(existsSync(out), false);
    }
  },
);

/** The imported model holds exactly the weights the checkpoint was made from. */
function assertSameWeights(out: string, label: string): void {
  const got = readSafetensors(out).tensors,
    ref = readSafetensors(weights).tensors;
  assert.equal(got.size, ref.size, label);
  for (const [k, t] of ref)
    assert.deepEqual(Buffer.from(got.get(k)!.data), Buffer.from(t.data), `${label}: ${k}`);
}

for (const [name, what] of [
  ['ok_real', 'a Lightning checkpoint from torch.save'],
  [
    'ok_deflated',
    'the same checkpoint with every entry deflated (inflate limited to the declared sizes)',
  ],
  [
    'ok_stride0_unused',
    'a checkpoint holding 4 GiB stride-0 views (an unknown key, optimizer and callback state) that are never materialised',
  ],
] as const) {
  test(`import still accepts ${what}`, { skip: noTorch }, async () => {
    const { r, out } = await importCase(name, ['--labels', 'seed42']); // no hyper-parameters name its words
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assertBounded(r, { maxMs: MAX_MS, maxMiB: MAX_MIB, label: name });
    assertSameWeights(out, name);
    assertInputUnchanged(name);
  });
}

test(
  'import of a checkpoint whose pickle would call os.system runs nothing (the evil entry is skipped)',
  { skip: noTorch },
  async () => {
    const { r, out } = await importCase('evil_os_system', ['--labels', 'seed42']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /skipped 1 non-tensor entries: model\.evil/);
    assert.equal(existsSync(marker), false, 'os.system ran');
    assertBounded(r, { maxMs: MAX_MS, maxMiB: MAX_MIB, label: 'evil_os_system' });
    assertSameWeights(out, 'evil_os_system');
  },
);

after(() => {
  if (noTorch) return;
  const n = readdirSync(cases).length;
  const top = (rs: typeof runs, k: 'ms' | 'peakMiB') =>
    rs.reduce((a, b) => (b[k] > a[k] ? b : a), rs[0]);
  for (const [what, rs] of [
    ['refused', runs.filter((x) => x.code !== 0)],
    ['imported', runs.filter((x) => x.code === 0)],
  ] as const) {
    if (!rs.length) continue;
    const t = top(rs, 'ms'),
      m = top(rs, 'peakMiB');
    console.log(
      `hostile_pickle ${what} (${rs.length} of ${n} crafted files): slowest ${t.ms.toFixed(0)} ms (${t.name}), worst peak RSS ${m.peakMiB.toFixed(0)} MiB (${m.name})`,
    );
  }
  console.log(
    `hostile_pickle: worst peak RSS over every run ${worst.peakMiB.toFixed(0)} MiB (${worst.label})`,
  );
});
