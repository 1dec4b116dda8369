// eflip as an installed package: `npm pack` the repository, install the tarball into an empty
// project offline (the dependencies come from the npm cache that setup's `npm ci` filled, pinned
// by the repository's lockfile), then use it the way a user would — first with libtorch hidden
// (ONNX inference only), then installed again with libtorch present (the install hook builds the
// addon; doctor, a 2-step training run). About 2 minutes on 2 cores, most of it the addon build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyCorpus, tinyOverrides } from './train_helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const REPO_BIN = join(ROOT, 'bin', 'eflip.js');
const REPO_ADDON = join(ROOT, 'native', 'build', 'Release', 'eflip_native.node');
const CLIP = 'ABOUT_00001.mp4';

let tmp = '';
let app = '';
let skip: string | false = false;
let tarballBytes = 0;
let installMs = 0;
let installLog = '';
let onnx = '';

/** No libtorch: LIBTORCH names an empty directory (the locator then never falls back to the system copy). */
const noTorchEnv = () => ({ ...withoutAddonOverride(), LIBTORCH: join(tmp, 'no-libtorch') });
function withoutAddonOverride(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.EFLIP_ADDON;
  delete env.LIBTORCH;
  delete env.LIBTORCH_USE_PYTORCH;
  return env;
}

function sh(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: o.cwd ?? app,
    env: o.env ?? process.env,
    timeout: o.timeout ?? 120_000,
  });
}
const npx = (args: string[], env: NodeJS.ProcessEnv, timeout?: number) =>
  sh('npx', ['--no-install', 'eflip', ...args], { env, timeout });

/** A lockfile for the empty project: eflip from the tarball, its dependencies exactly as the repository locks them. */
function appLockfile(tarball: string): object {
  const repo = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const packages: Record<string, unknown> = {
    '': { name: 'app', version: '1.0.0', dependencies: { eflip: `file:${tarball}` } },
  };
  packages['node_modules/eflip'] = {
    version: pkg.version,
    resolved: `file:${tarball}`,
    hasInstallScript: true,
    dependencies: pkg.dependencies,
    bin: pkg.bin,
    engines: pkg.engines,
  };
  for (const [k, v] of Object.entries(
    repo.packages as Record<string, { dev?: boolean; link?: boolean }>,
  )) {
    if (k && !v.dev && !v.link) packages[k] = v;
  }
  return { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'eflip-package-'));
  app = join(tmp, 'app');
  mkdirSync(app);
  mkdirSync(join(tmp, 'no-libtorch'));
  // dist/ is fresh: `npm test` runs setup first (prepack would run it again)
  const p = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: ROOT });
  assert.equal(p.status, 0, `npm pack failed: ${p.stderr}`);
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
  tarballBytes = statSync(join(tmp, tarball)).size;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      version: '1.0.0',
      private: true,
      dependencies: { eflip: `file:../${tarball}` },
    }),
  );
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(appLockfile(`../${tarball}`)));
  const t0 = performance.now();
  // onnxruntime-node's own install step would download CUDA libraries; the CPU build is in its package
  const i = sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], {
    env: { ...noTorchEnv(), ONNXRUNTIME_NODE_INSTALL: 'skip' },
    timeout: 300_000,
  });
  installMs = performance.now() - t0;
  installLog = i.stdout + i.stderr;
  if (i.status !== 0 && /ENOTCACHED|only-if-cached/.test(installLog)) {
    skip = `offline install impossible here: the npm cache lacks a dependency of the lockfile (${(installLog.match(/request to (\S+)/) ?? [])[1] ?? 'see npm output'}); run \`npm ci\` once with network`;
    return;
  }
  assert.equal(i.status, 0, `npm ci of the tarball failed:\n${installLog.slice(-3000)}`);
  // the model every inference check reads: the bundled demo model exported (with the streaming pair) by the repository
  onnx = join(tmp, 'demo.onnx');
  const e = sh(
    process.execPath,
    [
      REPO_BIN,
      'export',
      '-c',
      join(ROOT, 'assets', 'demo', 'model.safetensors'),
      '--features',
      '--out',
      onnx,
    ],
    { cwd: ROOT, env: noTorchEnv() },
  );
  assert.equal(e.status, 0, e.stderr);
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the package exports only its entry points, each with types, and the docs import only those', () => {
  const exp = pkg.exports as Record<string, string | Record<string, string>>;
  assert.ok(!('./*' in exp), 'package.json exports "./*" (every internal file public)');
  for (const [k, v] of Object.entries(exp)) {
    if (k === './package.json') continue;
    assert.equal(typeof v, 'object', `export ${k} has no conditions`);
    const types = (v as Record<string, string>).types;
    assert.ok(types, `export ${k} has no types`);
    assert.ok(existsSync(join(ROOT, types)), `export ${k}: ${types} is not built`);
  }
  const docs = [
    join(ROOT, 'README.md'),
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join(ROOT, 'docs', f)),
  ];
  let n = 0;
  for (const f of docs) {
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(eflip(?:\/[^']*)?)'/g)) {
      n++;
      const sub = m[1] === 'eflip' ? '.' : `.${m[1].slice('eflip'.length)}`;
      assert.ok(sub in exp, `${f} imports '${m[1]}', which is not a package entry point`);
    }
  }
  assert.ok(n >= 5, `the docs show ${n} imports from the package`);
});

test('npm pack + offline install without libtorch: the install says in one line how to enable it', (t) => {
  if (skip) return t.skip(skip);
  t.diagnostic(
    `tarball ${(tarballBytes / 1e6).toFixed(2)} MB, offline install ${(installMs / 1000).toFixed(1)} s`,
  );
  const root = join(app, 'node_modules', 'eflip');
  for (const f of [
    'dist/src/cli/main.js',
    'dist/src/infer/index.d.ts',
    'native/binding.gyp',
    'native/addon.cc',
    'scripts/find-libtorch.cjs',
    'scripts/build-native.cjs',
    'assets/demo/model.safetensors',
    `assets/samples/${CLIP}`,
    'configs/synth.yaml',
    // eflip serve's web app; the benches' PyTorch references and the ROI bench's photograph
    'dist/web/index.html',
    'dist/web/app.js',
    'tools/torch_ref/lipreader.py',
    'tools/torch_ref/onnx_bench_torch.py',
    'tools/torch_ref/ops_bench.py',
    'tools/torch_ref/train_step.py',
    'test/fixtures/roi/messi5.jpg',
  ]) {
    assert.ok(existsSync(join(root, f)), `the package lacks ${f}`);
  }
  assert.ok(
    !existsSync(join(root, 'native', 'build')),
    'the addon was built (or shipped) although libtorch is hidden',
  );
  assert.ok(
    !existsSync(join(root, 'src')) && !existsSync(join(root, 'dist', 'test')),
    'sources or tests were packed',
  );
  const lines = installLog.split('\n').filter((l) => l.startsWith('eflip:'));
  assert.equal(lines.length, 1, `one eflip line at install, got:\n${lines.join('\n')}`);
  assert.match(lines[0], /libtorch not found.*ONNX inference works.*npx eflip build-native/);
});

test('installed without libtorch: npx eflip predict reads a sample clip with the demo model’s ONNX export', (t) => {
  if (skip) return t.skip(skip);
  const clip = join(app, 'node_modules', 'eflip', 'assets', 'samples', CLIP);
  const r = npx(['predict', clip, '-c', onnx, '--top', '3', '--json'], noTorchEnv());
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout).results[0];
  // the same answer as the repository's own eflip
  const ref = sh(
    process.execPath,
    [REPO_BIN, 'predict', clip, '-c', onnx, '--top', '3', '--json'],
    { cwd: ROOT },
  );
  assert.equal(ref.status, 0, ref.stderr);
  assert.deepEqual(got.top, JSON.parse(ref.stdout).results[0].top);
  assert.equal(got.frames, 29);
  const labels = readFileSync(join(ROOT, 'assets', 'demo', 'labels.txt'), 'utf8').split('\n');
  assert.ok(labels.includes(got.top[0].label));
});

test('installed without libtorch: npx eflip serve serves the web app, its models and onnxruntime-web over HTTP', async (t) => {
  if (skip) return t.skip(skip);
  const { spawn } = await import('node:child_process');
  const child = spawn('npx', ['--no-install', 'eflip', 'serve', '--port', '0', '--model', onnx], {
    cwd: app,
    env: noTorchEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npx and node go together
  });
  let out = '',
    err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b));
  child.stderr!.on('data', (b: Buffer) => (err += b));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 60_000);
      const poll = setInterval(() => {
        const m = /(http:\/\/[^/\s]+\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(m[1]);
        }
      }, 100);
      child.on('exit', (code) => {
        clearTimeout(timer);
        clearInterval(poll);
        reject(new Error(`serve exited ${code}: ${err}`));
      });
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script[^>]+app\.js/);
    const models = (await (await fetch(`${url}api/models`)).json()) as {
      models: { url: string }[];
    };
    assert.equal(models.models.length, 1);
    const model = await fetch(new URL(models.models[0].url, url));
    assert.equal(model.status, 200);
    assert.ok((await model.arrayBuffer()).byteLength > 1000);
    const ort = await fetch(`${url}ort/ort-wasm-simd-threaded.wasm`);
    assert.equal(ort.status, 200);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

test('installed: eflip/roi and eflip/infer bundle for the browser (esbuild, platform browser); no Node module reaches the bundle', (t) => {
  if (skip) return t.skip(skip);
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild');
  if (!existsSync(esbuild)) return t.skip('no esbuild in the repository');
  for (const entry of ['eflip/roi', 'eflip/infer']) {
    writeFileSync(
      join(app, 'page.js'),
      `import * as m from '${entry}';\nconsole.log(Object.keys(m));\n`,
    );
    const r = sh(esbuild, [
      'page.js',
      '--bundle',
      '--platform=browser',
      '--format=esm',
      `--outfile=${join(tmp, 'page.bundle.js')}`,
      '--log-level=error',
    ]);
    assert.equal(r.status, 0, `${entry}: ${r.stderr}`);
    const out = readFileSync(join(tmp, 'page.bundle.js'), 'utf8');
    assert.doesNotMatch(
      out,
      /from ["']node:|require\(["']node:/,
      `${entry}: a Node module in the bundle`,
    );
  }
});

test('installed without libtorch: a command that needs libtorch says so in one line', (t) => {
  if (skip) return t.skip(skip);
  const r = npx(
    ['train', '--config', join(app, 'node_modules', 'eflip', 'configs', 'synth.yaml')],
    noTorchEnv(),
  );
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /needs libtorch.*npx eflip build-native/);
  const h = npx(['--help'], noTorchEnv());
  assert.match(h.stdout, /build-native/);
  for (const c of ['predict', 'stream', 'roi', 'export']) {
    const r = npx([c, '--help'], noTorchEnv());
    assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: eflip ${c}`));
  }
});

test('installed without libtorch: lipreader() from a script reads and streams; internals are not importable', (t) => {
  if (skip) return t.skip(skip);
  const clip = join(app, 'node_modules', 'eflip', 'assets', 'samples', CLIP);
  writeFileSync(
    join(app, 'read.mjs'),
    [
      "import { lipreader } from 'eflip/infer';",
      'const reader = await lipreader(process.argv[2], { top: 3 });',
      'const read = await reader.read(process.argv[3]);',
      'const stream = await reader.stream(process.argv[3], { window: 15 });',
      'await reader.dispose();',
      "const roi = await import('eflip/roi');",
      'let internal = null;',
      "try { await import('eflip/dist/src/infer/index.js'); } catch (e) { internal = e.code; }",
      'console.log(JSON.stringify({ read, frames: stream.frames, segments: stream.segments, internal, roi: typeof roi.roiFromVideo }));',
    ].join('\n'),
  );
  const r = sh(process.execPath, ['read.mjs', onnx, clip], { env: noTorchEnv() });
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  const cli = JSON.parse(
    npx(['predict', clip, '-c', onnx, '--top', '3', '--json'], noTorchEnv()).stdout,
  ).results[0];
  assert.deepEqual(
    o.read.top.map((e: { label: string }) => e.label),
    cli.top.map((e: { label: string }) => e.label),
  );
  assert.ok(Math.abs(o.read.top[0].probability - cli.top[0].probability) < 1e-5);
  assert.equal(o.frames, 29);
  assert.ok(
    o.segments.length >= 1 &&
      o.segments.every((s: { start: number; end: number }) => s.end > s.start),
  );
  assert.equal(o.internal, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  assert.equal(o.roi, 'function');
});

test(
  'installed with libtorch present: the install builds the addon; npx eflip doctor and a 2-step eflip train',
  { timeout: 600_000 },
  (t) => {
    if (skip) return t.skip(skip);
    // EFLIP_TEST_NATIVE_BUILD=0: skip the install-time build (about 45-90 s on 2 cores) and let the
    // addon the repository built from the same sources with the same locator stand in for it
    const env: NodeJS.ProcessEnv = {
      ...withoutAddonOverride(),
      EFLIP_CLIP_CACHE: join(tmp, 'clip-cache'),
    };
    let dir = app;
    if (process.env.EFLIP_TEST_NATIVE_BUILD === '0') {
      if (!existsSync(REPO_ADDON))
        return t.skip(`no libtorch addon built in the repository (${REPO_ADDON})`);
      env.EFLIP_ADDON = REPO_ADDON;
    } else {
      // a second empty project, installed with the system libtorch visible to the locator
      dir = join(tmp, 'app-torch');
      mkdirSync(dir);
      for (const f of ['package.json', 'package-lock.json'])
        writeFileSync(join(dir, f), readFileSync(join(app, f)));
      const t0 = performance.now();
      const i = sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], {
        cwd: dir,
        env: { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
        timeout: 540_000,
      });
      const out = i.stdout + i.stderr;
      assert.equal(i.status, 0, out.slice(-3000));
      t.diagnostic(
        `offline install with the addon build: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      assert.match(out, /eflip: libtorch addon built/, out.slice(-3000));
      assert.ok(
        existsSync(
          join(dir, 'node_modules', 'eflip', 'native', 'build', 'Release', 'eflip_native.node'),
        ),
      );
    }
    const run = (args: string[]) =>
      sh('npx', ['--no-install', 'eflip', ...args], { cwd: dir, env, timeout: 180_000 });
    const d = run(['doctor', '--json']);
    assert.equal(d.status, 0, d.stdout + d.stderr);
    const rep = JSON.parse(d.stdout);
    assert.equal(rep.ok, true);
    assert.equal(rep.addon.loaded, true);
    if (!env.EFLIP_ADDON)
      assert.ok(rep.addon.path.startsWith(join(dir, 'node_modules', 'eflip')), rep.addon.path);
    const runDir = join(tmp, 'run');
    const tr = run([
      'train',
      '--config',
      join(dir, 'node_modules', 'eflip', 'configs', 'synth.yaml'),
      ...tinyOverrides(tinyCorpus(), runDir),
      'train.max_steps=2',
    ]);
    assert.equal(tr.status, 0, tr.stderr.slice(-2000));
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((m) => m.kind === 'step');
    assert.ok(steps.length >= 1 && steps.length <= 2, `${steps.length} step lines`);
    assert.ok(steps.every((m) => Number.isFinite(m.loss)));
  },
);
