#!/usr/bin/env node
// Locate libtorch the way tch-rs does, for binding.gyp and `eflip doctor`:
//   1. LIBTORCH=/path        a directory with include/ and lib/ (e.g. an unpacked libtorch zip)
//   2. LIBTORCH_USE_PYTORCH=1 ask python's torch for its include and library directories
//   3. the system copy       Debian's libtorch-dev (1.13, CPU)
// Usage: find-libtorch.cjs --json | --include | --libdir | --libs | --cflags | --check
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const MIN = [1, 13];
const FIXES = [
  'eflip could not find libtorch. Fix one of:',
  '  1. Debian/Ubuntu: sudo apt-get install -y libtorch-dev   (or run `npm run setup` as root)',
  '  2. export LIBTORCH=/path/to/libtorch   (a directory with include/ and lib/, e.g. the unpacked libtorch zip)',
  '  3. export LIBTORCH_USE_PYTORCH=1   (use the torch package of `python3`; set PYTHON to choose the interpreter)',
].join('\n');

function readVersion(includeDirs) {
  for (const d of includeDirs) {
    const f = path.join(d, 'torch', 'version.h');
    if (!fs.existsSync(f)) continue;
    const t = fs.readFileSync(f, 'utf8');
    const num = (k) => Number((t.match(new RegExp(`#define ${k} (\\d+)`)) || [])[1]);
    return `${num('TORCH_VERSION_MAJOR')}.${num('TORCH_VERSION_MINOR')}.${num('TORCH_VERSION_PATCH')}`;
  }
  return null;
}

function fromDir(root, source) {
  const include = [
    path.join(root, 'include'),
    path.join(root, 'include', 'torch', 'csrc', 'api', 'include'),
  ];
  return { source, include, libdir: path.join(root, 'lib'), cxx11abi: null };
}

function fromPython() {
  const py = process.env.PYTHON || 'python3';
  const code = [
    'import json, os, torch',
    'from torch.utils import cpp_extension as c',
    'extra = []  # CUDA toolkit and NCCL headers, for the NCCL process group (optional)',
    'if torch.version.cuda and c.CUDA_HOME: extra.append(os.path.join(c.CUDA_HOME, "include"))',
    'try:',
    '  import nvidia.nccl as n; extra.append(os.path.join(list(n.__path__)[0], "include"))',
    'except Exception: pass',
    'print(json.dumps({"include": c.include_paths(), "libdir": c.library_paths()[0],',
    '  "cxx11abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "cuda": torch.version.cuda, "extraInclude": extra}))',
  ].join('\n');
  const out = execFileSync(py, ['-c', code], { encoding: 'utf8' });
  return { source: `LIBTORCH_USE_PYTORCH (${py})`, ...JSON.parse(out) };
}

function systemCopy() {
  const candidates = ['/usr', '/usr/local'];
  for (const root of candidates) {
    if (
      !fs.existsSync(
        path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h'),
      )
    )
      continue;
    const multiarch = ['lib/x86_64-linux-gnu', 'lib/aarch64-linux-gnu', 'lib'].map((l) =>
      path.join(root, l),
    );
    const libdir = multiarch.find((l) => fs.existsSync(path.join(l, 'libtorch.so')));
    if (libdir) return { ...fromDir(root, `system (${root})`), libdir };
  }
  return null;
}

function locate() {
  let found = null;
  if (process.env.LIBTORCH) {
    found = fromDir(process.env.LIBTORCH, `LIBTORCH=${process.env.LIBTORCH}`);
  } else if (process.env.LIBTORCH_USE_PYTORCH && process.env.LIBTORCH_USE_PYTORCH !== '0') {
    try {
      found = fromPython();
    } catch (e) {
      throw new Error(
        `LIBTORCH_USE_PYTORCH is set but python's torch could not be queried: ${e.message}\n${FIXES}`,
      );
    }
  } else {
    found = systemCopy();
  }
  if (!found) throw new Error(FIXES);
  if (!fs.existsSync(path.join(found.libdir, 'libtorch.so'))) {
    throw new Error(`libtorch.so not found in ${found.libdir} (from ${found.source}).\n${FIXES}`);
  }
  found.version = readVersion(found.include);
  if (!found.version)
    throw new Error(
      `torch/version.h not found under ${found.include.join(', ')} (from ${found.source}).\n${FIXES}`,
    );
  const [maj, min] = found.version.split('.').map(Number);
  if (maj < MIN[0] || (maj === MIN[0] && min < MIN[1])) {
    throw new Error(
      `libtorch ${found.version} at ${found.libdir} is too old; eflip needs >= ${MIN.join('.')}.\n${FIXES}`,
    );
  }
  found.cuda = fs.existsSync(path.join(found.libdir, 'libtorch_cuda.so'));
  const libs = ['torch', 'torch_cpu', 'c10'];
  if (found.cuda) libs.push('torch_cuda', 'c10_cuda');
  found.libs = libs;
  // Header directories the c10d process groups may need: gloo's (Debian: libgloo-dev; pip's
  // torch does not ship them; EFLIP_GLOO_INCLUDE may name a gloo checkout matching torch's),
  // and for NCCL the CUDA toolkit's and NCCL's. Whether they fit is decided by probeC10d().
  const extra = [
    ...(found.extraInclude || []),
    ...(process.env.EFLIP_GLOO_INCLUDE ? [process.env.EFLIP_GLOO_INCLUDE] : []),
    '/usr/include',
    '/usr/local/include',
  ];
  for (const rel of ['nccl.h', 'cuda_runtime_api.h']) {
    const d = extra.find((x) => fs.existsSync(path.join(x, rel)));
    if (d && !found.include.includes(d) && !d.startsWith('/usr/')) found.include.push(d);
  }
  if (process.env.EFLIP_GLOO_INCLUDE && !found.include.includes(process.env.EFLIP_GLOO_INCLUDE))
    found.include.unshift(process.env.EFLIP_GLOO_INCLUDE);
  if (found.cxx11abi === null) found.cxx11abi = 1; // Debian and the cxx11-abi libtorch zips
  return found;
}

/** The C++ standard libtorch's headers need: C++17 up to 2.11, C++20 from 2.12 (the ATen headers
 *  refuse older standards there). */
function cxxStd(version) {
  const [maj, min] = String(version).split('.').map(Number);
  return maj > 2 || (maj === 2 && min >= 12) ? 'c++20' : 'c++17';
}

// Which c10d process groups the addon can compile: a header that is missing or does not fit
// this libtorch (e.g. gloo headers of another version) leaves that backend out instead of
// breaking the build. One syntax-only compile per backend (a few seconds).
function probeC10d(f) {
  const os = require('node:os');
  const cxx = process.env.CXX || 'g++';
  // remembered per libtorch/header set (setup runs this twice per build)
  const key = JSON.stringify([f.version, f.libdir, f.include, f.cxx11abi, f.cuda, cxx]);
  const cacheFile = path.join(__dirname, '..', '.setup-stamps', 'c10d-probe.json');
  try {
    const c = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    if (c.key === key) return Object.assign(f, { gloo: c.gloo, nccl: c.nccl });
  } catch {
    /* no cache yet */
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eflip-c10d-'));
  const one = (macro, header) => {
    if (
      !f.include.some((d) =>
        fs.existsSync(path.join(d, 'torch', 'csrc', 'distributed', 'c10d', header)),
      )
    )
      return false;
    const file = path.join(dir, `${macro}.cc`);
    fs.writeFileSync(
      file,
      `#define ${macro} 1\n#include <torch/csrc/distributed/c10d/${header}>\nint main() { return 0; }\n`,
    );
    try {
      execFileSync(
        cxx,
        [
          `-std=${cxxStd(f.version)}`,
          '-fsyntax-only',
          `-D_GLIBCXX_USE_CXX11_ABI=${f.cxx11abi}`,
          ...f.include.map((d) => `-I${d}`),
          file,
        ],
        { stdio: 'ignore', timeout: 180000 },
      );
      return true;
    } catch {
      return false;
    }
  };
  try {
    f.gloo = one('USE_C10D_GLOO', 'ProcessGroupGloo.hpp');
    f.nccl = f.cuda && one('USE_C10D_NCCL', 'ProcessGroupNCCL.hpp');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    fs.writeFileSync(cacheFile, JSON.stringify({ key, gloo: f.gloo, nccl: f.nccl }));
  } catch {
    /* read-only checkout: probe again next time */
  }
  return f;
}

if (require.main === module) {
  try {
    const arg = process.argv[2] || '--json';
    const f = ['--json', '--cflags', '--check'].includes(arg) ? probeC10d(locate()) : locate();
    if (arg === '--json') console.log(JSON.stringify(f, null, 2));
    else if (arg === '--include') console.log(f.include.join(' '));
    else if (arg === '--libdir') console.log(f.libdir);
    else if (arg === '--libs') {
      // --no-as-needed keeps libtorch_cuda linked although no symbol of it is referenced directly.
      console.log(
        [
          '-Wl,--no-as-needed',
          `-L${f.libdir}`,
          ...f.libs.map((l) => `-l${l}`),
          '-Wl,--as-needed',
          `-Wl,-rpath,${f.libdir}`,
        ].join(' '),
      );
    } else if (arg === '--cflags') {
      const defs = [`-std=${cxxStd(f.version)}`, `-D_GLIBCXX_USE_CXX11_ABI=${f.cxx11abi}`];
      if (f.cuda) defs.push('-DEFLIP_WITH_CUDA=1');
      if (f.gloo) defs.push('-DEFLIP_WITH_GLOO=1');
      if (f.nccl) defs.push('-DEFLIP_WITH_NCCL=1');
      // at::parallel_for is inline: with libtorch's OpenMP backend it is a `#pragma omp
      // parallel` compiled into the addon, serial unless the addon is compiled with -fopenmp.
      // Compile only: its GOMP calls bind at load time to the OpenMP runtime libtorch loads.
      if (parallelBackend(f) === 'openmp') defs.push('-fopenmp');
      console.log(defs.join(' '));
    } else if (arg === '--check') {
      const pgs =
        [f.gloo && 'gloo', f.nccl && 'nccl'].filter(Boolean).join(', ') ||
        'none (gloo needs libgloo-dev, or EFLIP_GLOO_INCLUDE for a non-Debian libtorch)';
      console.error(
        `libtorch ${f.version} from ${f.source} (${f.libdir})${f.cuda ? ' with CUDA' : ''}; process groups: ${pgs}`,
      );
    } else throw new Error(`unknown option ${arg}`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
/** libtorch's intra-op backend ('openmp', 'native' or 'tbb'), from ATen/Config.h. */
function parallelBackend(f) {
  for (const d of f.include) {
    const cfg = path.join(d, 'ATen', 'Config.h');
    if (!fs.existsSync(cfg)) continue;
    const text = fs.readFileSync(cfg, 'utf8');
    if (/#define AT_PARALLEL_OPENMP 1/.test(text)) return 'openmp';
    if (/#define AT_PARALLEL_NATIVE_TBB 1/.test(text)) return 'tbb';
    return 'native';
  }
  return 'native';
}
module.exports = { locate, probeC10d, cxxStd, parallelBackend };
