// Runs inside headless Chromium (test/browser.test.ts bundles it with esbuild, resolving
// 'eflip/infer' through the package's "browser" export condition): open the exported model
// with onnxruntime-web (wasm), predict the prepared clips, stream one, and POST the results.
import { lipreader, loadLipReader, streamClip } from 'eflip/infer';

const post = (o) => fetch('/result', { method: 'POST', body: JSON.stringify(o) });

async function main() {
  const meta = await (await fetch('/clips.json')).json();
  const reader = await loadLipReader('/model.onnx', {
    wasmPaths: '/ort/',
    device: 'wasm',
    threads: 1,
  });
  const clips = [];
  for (const c of meta.clips) {
    const data = new Float32Array(await (await fetch(c.file)).arrayBuffer());
    clips.push({
      name: c.name,
      clip: { data, frames: c.frames, channels: c.channels, size: c.size, fps: 25 },
    });
  }
  const out = {
    userAgent: navigator.userAgent,
    device: reader.device,
    labels: reader.labels,
    predictions: [],
    timeline: null,
  };
  for (const { name, clip } of clips)
    out.predictions.push({ name, logProbs: Array.from(await reader.predictClip(clip)) });
  out.timeline = await streamClip(reader, clips[0].clip, { window: 29 });
  await reader.dispose();
  // the same on WebGPU (headless Chromium offers a SwiftShader adapter with --enable-unsafe-webgpu)
  out.webgpu = { hasGpu: !!navigator.gpu };
  try {
    const gpu = await loadLipReader('/model.onnx', { wasmPaths: '/ort/', device: 'webgpu' });
    out.webgpu.device = gpu.device;
    out.webgpu.predictions = [];
    for (const { name, clip } of clips)
      out.webgpu.predictions.push({ name, logProbs: Array.from(await gpu.predictClip(clip)) });
    await gpu.dispose();
  } catch (e) {
    out.webgpu.error = String((e && e.stack) || e);
  }
  // the one-call pipeline on real mp4 files, decoded by the browser: a URL and a Blob
  try {
    const lr = await lipreader('/model.onnx', {
      wasmPaths: '/ort/',
      device: 'wasm',
      threads: 1,
      top: 3,
    });
    const blob = await (await fetch('/sample0.mp4')).blob();
    out.pipeline = {
      url: await lr.read('/sample0.mp4'),
      blob: await lr.read(blob),
      stream: (await lr.stream('/sample0.mp4', { window: 29 })).frames,
    };
    await lr.dispose();
  } catch (e) {
    out.pipeline = { error: String((e && e.stack) || e) };
  }
  // front-end lanes (Web Workers, one wasm thread each) on a T-size model: whole clips with two
  // lanes and without, the same clip
  try {
    const lm = await (await fetch('/lanes.json')).json();
    const data = new Float32Array(await (await fetch('/lanesclip.bin')).arrayBuffer());
    const clip = { data, frames: lm.frames, channels: 1, size: 88, fps: 25 };
    const run = async (lanes) => {
      const r = await loadLipReader('/lanes.onnx', {
        wasmPaths: '/ort/',
        device: 'wasm',
        threads: 1,
        lanes,
        laneWorkerUrl: '/lane_worker.js',
      });
      try {
        return { lanes: r.frontendLanes, logProbs: Array.from(await r.predictClip(clip)) };
      } finally {
        await r.dispose();
      }
    };
    out.lanes = { with: await run(2), without: await run(0) };
  } catch (e) {
    out.lanes = { error: String((e && e.stack) || e) };
  }
  await post(out);
}

main().catch((e) => post({ error: String((e && e.stack) || e) }));
