// esbuild settings of every browser bundle of eflip (the web app, the browser tests): the
// "browser" export condition (eflip/infer → onnxruntime-web), and the ROI detector's Node-only
// model loader (src/roi/backend.ts, loaded by FaceDetector.create) replaced by src/roi/backend_browser.ts — in the
// browser the page loads face-api's ESM build itself and uses FaceDetector.withModels.
import { build } from 'esbuild';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);

const nodeOnly = {
  name: 'eflip-node-only',
  setup(b) {
    b.onResolve({ filter: /^\.\/backend\.js$/ }, (a) =>
      /src[\\/]roi[\\/]detector\.js$/.test(a.importer)
        ? { path: path.join(root, 'src/roi/backend_browser.ts') }
        : undefined,
    );
  },
};

export function webBundle(entry, outfile, extra = {}) {
  return build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['browser'],
    target: 'es2022',
    outfile,
    logLevel: 'warning',
    plugins: [nodeOnly],
    ...extra,
  });
}
