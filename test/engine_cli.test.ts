// `eflip doctor --json` and `eflip bench ops --json` (smoke: structure, not speed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const bin = new URL('../../bin/eflip.js', import.meta.url).pathname;

test('eflip doctor --json reports libtorch and a passing self-check', () => {
  const r = spawnSync(process.execPath, [bin, 'doctor', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.ok, true);
  assert.match(rep.libtorch.version, /^\d+\.\d+\.\d+$/);
  assert.ok(rep.libtorch.libdir);
  assert.equal(rep.addon.loaded, true);
  assert.ok(rep.cpu.threads >= 1);
  assert.match(rep.cpu.capability, /\w+/);
  // int8: the VNNI flag of this CPU as /proc/cpuinfo lists it ('none' on x86 without one)
  const flags = new Set(
    (/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/),
  );
  const vnni = ['amx_int8', 'avx512_vnni', 'avx_vnni'].find((f) => flags.has(f));
  assert.equal(rep.cpu.int8Dot, flags.has('sse2') ? (vnni ?? 'none') : null);
  assert.equal(typeof rep.cuda.available, 'boolean');
  assert.equal(typeof rep.distributed.gloo, 'boolean');
  assert.equal(rep.distributed.nccl && !rep.libtorch.cuda, false, 'nccl only in CUDA builds');
  assert.equal(rep.selfCheck.ok, true);
  assert.ok(rep.selfCheck.maxGradError < 1e-6);
  assert.deepEqual(rep.problems, []);
});

test('eflip doctor reports a broken libtorch location as not ok', () => {
  const r = spawnSync(process.execPath, [bin, 'doctor', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, LIBTORCH: '/nonexistent/libtorch' },
  });
  assert.equal(r.status, 1);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.ok, false);
  assert.equal(rep.libtorch.found, false);
  assert.match(rep.problems.join('\n'), /LIBTORCH_USE_PYTORCH/);
});

test('eflip doctor explains a missing addon', () => {
  const r = spawnSync(process.execPath, [bin, 'doctor'], {
    encoding: 'utf8',
    env: { ...process.env, EFLIP_ADDON: '/nonexistent/eflip_native.node' },
  });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /addon\s+NOT LOADED/);
  assert.match(r.stdout, /npm run build/);
  assert.match(r.stdout, /NOT OK/);
});

test('eflip bench ops --json measures eflip next to python3-torch', () => {
  const r = spawnSync(
    process.execPath,
    [bin, 'bench', 'ops', '--json', '--quick', '--reps', '1', '--iters', '2000'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.perOpOverheadUs.eflip > 0 && out.perOpOverheadUs.pytorch > 0);
  const names = out.results.map((x: { name: string }) => x.name);
  for (const n of ['add', 'conv3d', 'conv2d', 'matmul', 'mix_train'])
    assert.ok(names.includes(n), n);
  for (const x of out.results)
    assert.ok(Number.isFinite(x.ratio) && x.ratio > 0, `${x.name} ratio ${x.ratio}`);
});
