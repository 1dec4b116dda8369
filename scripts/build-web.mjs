// Bundle the web app (web/) into dist/web/ with esbuild for the browser: 'eflip/infer' resolves
// through the package's "browser" export condition (onnxruntime-web). Run by scripts/setup.sh
// after tsc; `eflip serve` serves dist/web.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const out = path.join(root, 'dist/web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'web/app.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['browser'],
  target: 'es2022',
  outfile: path.join(out, 'app.js'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(path.join(root, 'web', f), path.join(out, f));
