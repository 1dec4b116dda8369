#!/usr/bin/env node
// npm `install` hook of the eflip package. ONNX inference needs no libtorch, so this never fails
// the install: it builds the libtorch addon (training, --runtime torch) when libtorch is found and
// otherwise says in one line how to enable it later. In the repository (src/ beside this
// script) scripts/setup.sh builds the addon, so nothing happens here.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const LATER =
  'install libtorch (Debian: apt-get install libtorch-dev; or LIBTORCH=/path, or LIBTORCH_USE_PYTORCH=1), then run `npx eflip build-native`';

function main() {
  if (fs.existsSync(path.join(ROOT, 'src')) && fs.existsSync(path.join(ROOT, 'tsconfig.json')))
    return;
  if (process.env.EFLIP_SKIP_NATIVE && process.env.EFLIP_SKIP_NATIVE !== '0') {
    console.error(
      `eflip: libtorch addon not built (EFLIP_SKIP_NATIVE); ONNX inference works. For training and --runtime torch: ${LATER}`,
    );
    return;
  }
  try {
    require('./find-libtorch.cjs').locate();
  } catch {
    console.error(
      `eflip: libtorch not found, addon not built; ONNX inference works. For training and --runtime torch: ${LATER}`,
    );
    return;
  }
  const log = path.join(os.tmpdir(), `eflip-build-native-${process.pid}.log`);
  console.error(`eflip: building the libtorch addon (a few minutes; log: ${log})`);
  let status = 1;
  try {
    status = require('./build-native.cjs').build({ log });
  } catch (e) {
    console.error(
      `eflip: libtorch addon not built (${e.message.split('\n')[0]}); ONNX inference works. Retry with \`npx eflip build-native\``,
    );
    return;
  }
  if (status !== 0)
    console.error(
      `eflip: libtorch addon build failed (see ${log}); ONNX inference works. Retry with \`npx eflip build-native\``,
    );
  else console.error('eflip: libtorch addon built');
}

main();
