#!/usr/bin/env node
// Build the libtorch addon (native/ → native/build/Release/eflip_native.node) with node-gyp.
// libtorch is located by scripts/find-libtorch.cjs (LIBTORCH, LIBTORCH_USE_PYTORCH=1, or the
// system copy). Used by scripts/setup.sh in the repository, by the npm `install` hook
// (scripts/install.cjs) and by `eflip build-native` in an installed package.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

/** node-gyp: the project's own (repository), npm's (set for lifecycle scripts), npm's bundled copy, or PATH. */
function nodeGyp() {
  const candidates = [
    path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [ROOT] }));
  } catch {
    /* not installed beside eflip */
  }
  const js = candidates.find((c) => c && fs.existsSync(c));
  return js ? [process.execPath, js] : ['node-gyp'];
}

/** Build; returns the exit status. Output of the compiler goes to stderr (or to `log` when given). */
function build({ log } = {}) {
  const { locate } = require('./find-libtorch.cjs');
  locate(); // throws the one-paragraph "how to get libtorch" message when there is none
  const args = [
    'rebuild',
    '-j',
    String(process.env.JOBS || require('node:os').availableParallelism?.() || 2),
  ];
  // build against the machine's Node headers when they are installed (no download needed)
  if (fs.existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  const [cmd, ...pre] = nodeGyp();
  const out = log ? fs.openSync(log, 'w') : 'inherit';
  const stdio = ['ignore', log ? out : process.stderr, log ? out : process.stderr];
  const r = spawnSync(cmd, [...pre, ...args], { cwd: path.join(ROOT, 'native'), stdio });
  if (log) fs.closeSync(out);
  if (r.error)
    throw new Error(
      `could not run node-gyp (${r.error.message}); install it with \`npm install -g node-gyp\``,
    );
  return r.status ?? 1;
}

module.exports = { build, ROOT };

if (require.main === module) {
  try {
    const { locate, probeC10d } = require('./find-libtorch.cjs');
    const f = probeC10d(locate());
    const pgs = [f.gloo && 'gloo', f.nccl && 'nccl'].filter(Boolean).join(', ') || 'none';
    console.error(
      `libtorch ${f.version} from ${f.source} (${f.libdir})${f.cuda ? ' with CUDA' : ''}; process groups: ${pgs}`,
    );
    process.exit(build());
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
