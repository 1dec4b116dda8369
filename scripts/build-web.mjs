// Bundle the web app (web/) into dist/web/ for the browser (scripts/web_build.mjs: 'eflip/infer'
// resolves to the browser build on onnxruntime-web). Run by scripts/setup.sh after tsc;
// `eflip serve` serves dist/web.
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { webBundle } from './web_build.mjs';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const out = path.join(root, 'dist/web');
mkdirSync(out, { recursive: true });
await webBundle(path.join(root, 'web/app.js'), path.join(out, 'app.js'));
// the webcam's model runs in a module worker (web/model_worker.js), bundled on its own
await webBundle(path.join(root, 'web/model_worker.js'), path.join(out, 'model_worker.js'));
// and its face detector in another (web/detector_worker.js)
await webBundle(path.join(root, 'web/detector_worker.js'), path.join(out, 'detector_worker.js'));
// whole clips' front-end lanes (src/infer/web_lanes.ts): one module worker each
await webBundle(path.join(root, 'web/lane_worker.js'), path.join(out, 'lane_worker.js'));
for (const f of ['index.html', 'app.css'])
  copyFileSync(path.join(root, 'web', f), path.join(out, f));
