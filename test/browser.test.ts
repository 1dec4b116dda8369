// The browser build in a real browser: the "browser" export condition of eflip/infer, bundled
// by esbuild for the web platform (a Node import anywhere below it fails the bundle), runs in
// headless Chromium on onnxruntime-web: wasm (predictions and streaming timeline), and WebGPU on
// Chromium's SwiftShader adapter (predictions), for real sample clips, must equal
// onnxruntime-node's for the same exported demo model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { build } from 'esbuild';
import { loadCheckpoint } from '../src/io/onnx/checkpoint_weights.js';
import { exportOnnx } from '../src/io/onnx/export_model.js';
import { loadClip } from '../src/infer/frame_reader.js';
import { OnnxLipReader } from '../src/infer/onnx_lipreader.js';
import { nodePlatform } from '../src/infer/ort_node.js';
import { bytesSource } from '../src/infer/onnx_model_source.js';
import { streamClip } from '../src/infer/streaming.js';
import { topK } from '../src/infer/topk.js';
import { maxAbsDiff, randn, ROOT, tempDir } from './onnx_helpers.js';
import { torchInit } from './onnx_torch_ref.js';
import { CHROMIUM, closePage, openPage, type Page } from './browser_helpers.js';

const SAMPLES = ['ABOUT_00001.mp4', 'ABUSE_00001.mp4'];
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.mp4': 'video/mp4',
};

test(
  'eflip/infer in headless Chromium (onnxruntime-web wasm and WebGPU) predicts and streams like onnxruntime-node',
  { timeout: 240_000 },
  async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} not found: run \`npm run setup\` (installs Debian's chromium) or set EFLIP_CHROMIUM`,
    );
    const { dir, cleanup } = tempDir('eflip-browser-');
    let page: Page | null = null;
    const server = createServer();
    try {
      // the exported demo model and two real sample clips, pre-processed in Node
      const ck = loadCheckpoint(path.join(ROOT, 'assets/demo/model.safetensors'));
      const parts = {
        full: exportOnnx(ck, 'full'),
        frontend: exportOnnx(ck, 'frontend'),
        backend: exportOnnx(ck, 'backend'),
      };
      writeFileSync(path.join(dir, 'model.onnx'), parts.full);
      writeFileSync(path.join(dir, 'model.frontend.onnx'), parts.frontend);
      writeFileSync(path.join(dir, 'model.backend.onnx'), parts.backend);
      const node = await OnnxLipReader.open(
        await nodePlatform('cpu', 1),
        bytesSource(parts.full, 'model.onnx', { frontend: parts.frontend, backend: parts.backend }),
      );
      const clips = [];
      for (const [i, f] of SAMPLES.entries()) {
        const clip = await loadClip(path.join(ROOT, 'assets/samples', f), node.preprocessing, {
          channels: node.channels,
        });
        writeFileSync(
          path.join(dir, `clip${i}.bin`),
          new Uint8Array(clip.data.buffer, clip.data.byteOffset, clip.data.byteLength),
        );
        clips.push({
          name: f,
          file: `/clip${i}.bin`,
          frames: clip.frames,
          channels: clip.channels,
          size: clip.size,
          clip,
        });
      }
      copyFileSync(path.join(ROOT, 'assets/samples', SAMPLES[0]), path.join(dir, 'sample0.mp4'));
      writeFileSync(
        path.join(dir, 'clips.json'),
        JSON.stringify({ clips: clips.map(({ clip: _, ...c }) => c) }),
      );
      const expected = await Promise.all(clips.map((c) => node.predictClip(c.clip)));
      // a T model (random weights) with its pair, for the page's front-end lanes, and a clip
      const tck = loadCheckpoint(torchInit(dir, 'T', 11));
      for (const part of ['full', 'frontend', 'backend'] as const)
        writeFileSync(
          path.join(dir, part === 'full' ? 'lanes.onnx' : `lanes.${part}.onnx`),
          exportOnnx(tck, part),
        );
      const lanesClip = randn(29 * 88 * 88, 12);
      writeFileSync(path.join(dir, 'lanesclip.bin'), new Uint8Array(lanesClip.buffer));
      writeFileSync(path.join(dir, 'lanes.json'), JSON.stringify({ frames: 29 }));
      copyFileSync(path.join(ROOT, 'dist/web/lane_worker.js'), path.join(dir, 'lane_worker.js'));
      const tnode = await OnnxLipReader.open(
        await nodePlatform('cpu', 1),
        bytesSource(exportOnnx(tck, 'full'), 'lanes.onnx'),
      );
      const lanesExpected = await tnode.predictClip({
        data: lanesClip,
        frames: 29,
        channels: 1,
        size: 88,
      });
      await tnode.dispose();
      const expectedTimeline = await streamClip(node, clips[0].clip, { window: 29 });
      await node.dispose();

      // bundle the page for the browser platform with the "browser" condition
      const bundle = await build({
        entryPoints: [path.join(ROOT, 'test/browser/page.js')],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        conditions: ['browser'],
        outfile: path.join(dir, 'bundle.js'),
        logLevel: 'silent',
        metafile: true,
      });
      const inputs = Object.keys(bundle.metafile.inputs);
      assert.ok(
        inputs.some((p) => p.endsWith('dist/src/infer/browser.js')),
        'eflip/infer resolved to the browser entry',
      );
      assert.ok(
        !inputs.some(
          (p) => p.endsWith('dist/src/infer/index.js') || p.includes('onnxruntime-node'),
        ),
        'no Node entry in the browser bundle',
      );
      writeFileSync(
        path.join(dir, 'index.html'),
        '<!doctype html><meta charset="utf-8"><title>eflip</title><script type="module" src="/bundle.js"></script>',
      );

      // serve the directory and onnxruntime-web's wasm files; the page POSTs its result
      const ortDist = path.join(ROOT, 'node_modules/onnxruntime-web/dist');
      const result = new Promise<any>((resolve) => {
        server.on('request', (req, res) => {
          if (req.method === 'POST' && req.url === '/result') {
            let body = '';
            req.on('data', (b) => (body += b));
            req.on('end', () => {
              res.end('ok');
              resolve(JSON.parse(body));
            });
            return;
          }
          const url = (req.url ?? '/').split('?')[0];
          const file = url.startsWith('/ort/')
            ? path.join(ortDist, path.basename(url))
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
      page = openPage(`http://127.0.0.1:${port}/index.html`, dir, ['--enable-unsafe-webgpu']);
      const got = await Promise.race([result, page.failed]);

      assert.equal(got.error, undefined, got.error);
      assert.match(got.userAgent, /HeadlessChrome|Chrome/);
      assert.equal(got.device, 'wasm');
      assert.deepEqual(got.labels, ck.labels);
      got.predictions.forEach((p: { name: string; logProbs: number[] }, i: number) => {
        assert.equal(p.name, SAMPLES[i]);
        const d = maxAbsDiff(p.logProbs, expected[i]);
        assert.ok(d < 1e-3, `${p.name}: browser vs onnxruntime-node log-probs differ by ${d}`);
      });
      // WebGPU: Chromium's SwiftShader adapter (software Vulkan) stands in for a GPU here
      assert.equal(got.webgpu.error, undefined, got.webgpu.error);
      assert.equal(got.webgpu.hasGpu, true);
      assert.equal(got.webgpu.device, 'webgpu');
      got.webgpu.predictions.forEach((p: { name: string; logProbs: number[] }, i: number) => {
        const d = maxAbsDiff(p.logProbs, expected[i]);
        assert.ok(d < 1e-3, `${p.name}: WebGPU vs onnxruntime-node log-probs differ by ${d}`);
      });
      assert.equal(got.timeline.length, expectedTimeline.length);
      got.timeline.forEach((e: { word: string; probability: number }, i: number) => {
        assert.equal(e.word, expectedTimeline[i].word, `timeline step ${i}`);
        assert.ok(
          Math.abs(e.probability - expectedTimeline[i].probability) < 1e-3,
          `timeline step ${i}: ${e.probability} vs ${expectedTimeline[i].probability}`,
        );
      });
      // lipreader() in the browser: the <video> element decodes the mp4 (colour → luma: a rounding
      // away from ffmpeg's grey plane), the same crop + normalise; the same word as onnxruntime-node
      assert.equal(got.pipeline.error, undefined, got.pipeline.error);
      const nodeTop = topK(expected[0], ck.labels, 3);
      for (const r of [got.pipeline.url, got.pipeline.blob]) {
        assert.equal(r.frames, clips[0].frames);
        assert.equal(r.top[0].label, nodeTop[0].label, JSON.stringify(got.pipeline));
        assert.ok(
          Math.abs(r.top[0].probability - nodeTop[0].probability) < 0.05,
          `browser-decoded ${r.top[0].probability} vs ${nodeTop[0].probability}`,
        );
      }
      assert.equal(got.pipeline.stream, clips[0].frames);
      // front-end lanes in the page: two Web Workers ran the clip's front-end; the same answer
      // as without them and as onnxruntime-node
      assert.equal(got.lanes.error, undefined, got.lanes.error);
      assert.equal(got.lanes.with.lanes, 2);
      assert.equal(got.lanes.without.lanes, 0);
      for (const r of [got.lanes.with, got.lanes.without]) {
        const d = maxAbsDiff(r.logProbs, lanesExpected);
        assert.ok(d < 1e-3, `T in the page (lanes ${r.lanes}) vs onnxruntime-node: ${d}`);
      }
    } finally {
      await closePage(page);
      server.close();
      cleanup();
    }
  },
);
