// The mouth-ROI pipeline in the browser equals Node's: the same frames (a real photograph,
// test/fixtures/roi/messi5.jpg, placed off-centre in 640×480 with shifts, zoom, tilt and one
// missing frame) through the one shared implementation (src/roi/frames_roi.ts) — in Node on
// face-api's tfjs-wasm build, in headless Chromium on face-api's browser build (WebGL, else
// CPU kernels) with weights served from the npm package — give the same landmarks and ROIs
// within a measured tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { decodeVideo } from '../src/data/video.js';
import {
  composeVideo,
  FaceDetector,
  roiFromFrames,
  faceModelDir,
  type Motion,
} from '../src/roi/index.js';
import { ROOT, tempDir } from './onnx_helpers.js';
import { CHROMIUM, closePage, openPage, type Page } from './browser_helpers.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.wasm': 'application/wasm',
};
const MOTIONS: Motion[] = Array.from({ length: 8 }, (_, t) => ({
  dx: 3 * t,
  dy: -t,
  scale: 1 + 0.02 * t,
  degrees: -6 + 2 * t,
  blank: t === 4,
}));

test(
  'ROI pipeline: headless Chromium (face-api browser build) equals Node on the same frames',
  { timeout: 240_000 },
  async (t) => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} not found: run \`npm run setup\` or set EFLIP_CHROMIUM`,
    );
    const { dir, cleanup } = tempDir('eflip-roi-browser-');
    let page: Page | null = null;
    const server = createServer();
    try {
      const v = await decodeVideo(path.join(ROOT, 'test/fixtures/roi/messi5.jpg'));
      const photo = { data: v.data, width: v.width, height: v.height, channels: 3 as const };
      const frames = composeVideo(photo, MOTIONS, {
        width: 640,
        height: 480,
        anchor: [244, 110],
        zoom: 1.6,
        at: [420, 300],
      });
      const t0 = performance.now();
      const node = await roiFromFrames(
        frames,
        { faceDetector: await FaceDetector.create() },
        'frames',
      );
      const nodeMs = performance.now() - t0;
      writeFileSync(path.join(dir, 'frames.bin'), frames.data);
      writeFileSync(
        path.join(dir, 'frames.json'),
        JSON.stringify({
          frames: frames.frames,
          width: frames.width,
          height: frames.height,
          channels: frames.channels,
          fps: 25,
        }),
      );
      const { webBundle } = await import(path.join(ROOT, 'scripts/web_build.mjs'));
      await webBundle(path.join(ROOT, 'test/browser/roi_page.js'), path.join(dir, 'bundle.js'));
      writeFileSync(
        path.join(dir, 'index.html'),
        '<!doctype html><meta charset="utf-8"><title>roi</title><script type="module" src="/bundle.js"></script>',
      );

      const faceDir = faceModelDir();
      const tfWasmDir = path.join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
      const result = new Promise<any>((resolve) => {
        server.on('request', (req, res) => {
          if (req.method === 'POST' && req.url === '/result') {
            const chunks: Buffer[] = [];
            req.on('data', (b) => chunks.push(b));
            req.on('end', () => {
              res.end('ok');
              resolve(JSON.parse(Buffer.concat(chunks).toString()));
            });
            return;
          }
          const url = (req.url ?? '/').split('?')[0];
          const file = url.startsWith('/face-models/')
            ? path.join(faceDir, path.basename(url))
            : url.startsWith('/tfjs-wasm/')
              ? path.join(tfWasmDir, path.basename(url))
              : path.join(dir, path.basename(url));
          if (!existsSync(file)) {
            res.statusCode = 404;
            res.end();
            return;
          }
          res.setHeader('Content-Type', TYPES[path.extname(file)] ?? 'application/octet-stream');
          res.end(readFileSync(file));
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const backends = process.env.EFLIP_ROI_BROWSER_BACKENDS;
      page = openPage(
        `http://127.0.0.1:${port}/index.html${backends ? `?backends=${backends}` : ''}`,
        dir,
      );
      const got = await Promise.race([result, page.failed]);
      assert.equal(got.error, undefined, got.error);

      // where each frame's landmarks came from, and the frames without a face, agree
      assert.deepEqual(
        got.raw.map((l: unknown) => l === null),
        node.info.raw.map((l) => l === null),
        'the same frames have a face',
      );
      let lmMax = 0;
      node.info.landmarks.forEach((lm, f) =>
        lm.forEach((p, k) => {
          lmMax = Math.max(
            lmMax,
            Math.abs(p[0] - got.landmarks[f][k][0]),
            Math.abs(p[1] - got.landmarks[f][k][1]),
          );
        }),
      );
      const a = node.rois.data,
        b = got.rois.data as number[];
      assert.equal(b.length, a.length);
      let sum = 0,
        max = 0;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i] - b[i]);
        sum += d;
        max = Math.max(max, d);
      }
      const mean = sum / a.length;
      t.diagnostic(
        `browser tfjs backend ${got.backend}${got.failed.length ? ` (${got.failed.join('; ')})` : ''}: models ${got.loadMs.toFixed(0)} ms, ROI ${got.roiMs.toFixed(0)} ms for ${frames.frames} frames (Node ${nodeMs.toFixed(0)} ms); landmarks max |Δ| ${lmMax.toFixed(3)} px; ROI mean |Δ| ${mean.toFixed(3)}, max |Δ| ${max} grey levels`,
      );
      // tolerance: tfjs kernels differ between WebGL/CPU and wasm in float rounding only
      assert.ok(lmMax < 1.0, `landmarks differ by up to ${lmMax.toFixed(3)} px`);
      assert.ok(mean < 1.5, `ROIs differ by ${mean.toFixed(3)} grey levels on average`);
    } finally {
      await closePage(page);
      server.close();
      cleanup();
    }
  },
);
