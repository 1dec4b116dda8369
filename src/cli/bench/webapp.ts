// `eflip bench webapp`: the web app's webcam path in headless Chromium (Debian's), fed by
// Chromium's fake camera from a real photograph (test/fixtures/roi/messi5.jpg, placed
// off-centre in 640×480, drifting): frames/s and ms per frame for the face detector, the
// landmark net, the tracking check and the lipreading model, with the model on wasm and on
// WebGPU (Chromium's SwiftShader adapter where there is no GPU), the model in its Web Worker and
// on the page (A/B). Also the model alone: ms per 29-frame clip on onnxruntime-web wasm with 1
// thread and with all cores (multi-threaded wasm: the page is cross-origin isolated by the
// server's COOP/COEP), for the served model and for a random-weight T model in fp32 and int8
// (`--variant`; the int8 one is `eflip export --quantize int8`'s code calibrated on random
// clips: timing only). Served by the real `eflip serve`; `--model` takes any exported .onnx
// (an int8 one too) or a checkpoint.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, UsageError, BENCH_OPTIONS, defineCommand } from '../args.js';
import { decodeVideo } from '../../data/video.js';
import { writeY4m } from '../../data/video_writer.js';
import { composeVideo } from '../../roi/synthetic.js';
import { Cdp } from '../../serve/cdp.js';
import { EflipServer } from '../../serve/server.js';
import { WEB_ROOT } from '../commands/serve.js';
import { exportInt8, exportInt8Features } from '../int8_export.js';
import { loadCheckpoint } from '../../io/onnx/checkpoint_weights.js';
import { VARIANTS } from '../../model/config.js';
import { resolveLabels } from '../../model/labels.js';
import { createModel, saveModel } from '../../model/weights.js';
import { randomClip } from './random_clip.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The fake webcam of the bench and the tests: the ROI test photo in a 640×480 frame, drifting
 *  and tilting over 50 frames, as a .y4m file Chromium plays as its camera at `fps`. */
export async function writeFakeCamera(file: string, fps: number): Promise<void> {
  const v = await decodeVideo(path.join(ROOT, 'test/fixtures/roi/messi5.jpg'));
  const frames = composeVideo(
    { data: v.data, width: v.width, height: v.height, channels: 3 },
    Array.from({ length: 50 }, (_, k) => ({
      dx: Math.round(8 * Math.sin(k / 8)),
      degrees: 4 * Math.sin(k / 11),
    })),
    { width: 640, height: 480, anchor: [244, 110], zoom: 1.6, at: [420, 300] },
  );
  writeY4m(file, frames.data, { width: 640, height: 480, fps });
}

export const def = defineCommand({
  name: 'bench webapp',
  usage:
    'bench webapp [--json] [--frames 60] [--warmup 60] [--devices wasm,webgpu] [--model-in worker,page] [--face-in worker] [--threads 1,2] [--model PATH] [--variant T|S|B|none]',
  description:
    'Webcam path of the web app in headless Chromium (fake camera): frames/s, ms per frame (detector, landmarks, model).',
  options: {
    ...BENCH_OPTIONS,
    frames: {
      type: 'int',
      default: 60,
      min: 10,
      max: 5000,
      help: 'camera frames to time per device',
    },
    warmup: {
      type: 'int',
      default: 60,
      min: 0,
      max: 5000,
      help: 'camera frames tracked before timing starts (Chromium compiles the wasm and JS hot paths while they run; measured separately as `warmup`)',
    },
    devices: {
      type: 'list',
      default: ['wasm', 'webgpu'],
      choices: ['wasm', 'webgpu'],
      help: 'model devices: wasm, webgpu',
    },
    'model-in': {
      type: 'list',
      default: ['worker', 'page'],
      choices: ['worker', 'page'],
      help: 'where the webcam model runs (wasm runs): worker, page',
    },
    'face-in': {
      type: 'list',
      default: ['worker'],
      choices: ['worker', 'page'],
      help: "where the webcam's full face detections and crop checks run: worker (web/detector_worker.js), page",
    },
    threads: {
      type: 'list',
      help: 'onnxruntime-web wasm threads for the model-only timing (default: 1 and all cores); 0 skips it',
    },
    clips: { type: 'int', default: 10, min: 2, max: 1000, help: 'timed clips per thread count' },
    model: { type: 'string', help: 'model to serve (default: the bundled demo model)' },
    variant: {
      type: 'string',
      default: 'T',
      help: 'also time a random-weight model of this variant alone, fp32 and int8 (calibrated on random clips): T, S, B, or none',
    },
    chromium: {
      type: 'string',
      help: 'Chromium binary (default: $EFLIP_CHROMIUM or /usr/bin/chromium)',
    },
  },
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  const chromium = o.chromium ?? process.env.EFLIP_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium))
    throw new UsageError(
      `${chromium} not found: run \`npm run setup\` (installs Debian's chromium) or pass --chromium`,
    );
  const threadList = (o.threads ?? ['1', String(os.cpus().length)]).map((t) => {
    if (!/^\d+$/.test(t) || Number(t) > 16)
      throw new UsageError(`--threads: '${t}' is not a thread count 0..16`);
    return Number(t);
  });
  if (o.variant !== 'none' && !VARIANTS.includes(o.variant))
    throw new UsageError(`--variant: '${o.variant}' is not ${VARIANTS.join(', ')} or none`);
  if (!existsSync(path.join(WEB_ROOT, 'index.html')))
    throw new UsageError('the web app is not built: run `npm run build`');
  const photoFile = path.join(ROOT, 'test/fixtures/roi/messi5.jpg');
  if (!existsSync(photoFile))
    throw new UsageError(
      `${photoFile} missing (the bench uses the ROI test photo from a source checkout)`,
    );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eflip-bench-webapp-'));
  let server: EflipServer | null = null;
  try {
    // the served model (the webcam's), then the variant's fp32 and int8 models (timed alone)
    const models = [
      { file: o.model ?? path.join(ROOT, 'assets/demo/model.safetensors'), name: 'served' },
    ];
    if (o.variant !== 'none') {
      if (!o.json) console.log(`random-weight ${o.variant}: writing fp32, calibrating int8 ...`);
      models.push(...(await variantModels(o.variant, dir)));
    }
    server = await EflipServer.create({ models, webRoot: WEB_ROOT });
    const y4m = path.join(dir, 'camera.y4m');
    // 30 frames/s, a webcam's rate: the page reads what it can of them (a camera slower than
    // the page would cap the figure at the camera's rate)
    await writeFakeCamera(y4m, 30);
    const port = await server.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    const load = () => os.loadavg()[0].toFixed(1);
    // each model alone, per thread count without front-end lanes, then the page's default of one
    // wasm thread with a lane per core (a fresh page each: wasm threads are set once per page)
    const modelRuns: Record<string, unknown>[] = [];
    const cores = os.cpus().length;
    const pageConfigs = [
      ...[...new Set(threadList)].filter((t) => t > 0).map((threads) => ({ threads, lanes: 0 })),
      ...(threadList.some((t) => t > 0) && cores >= 2
        ? [{ threads: 1, lanes: cores }] // webPlatform caps them at MAX_LANES
        : []),
    ];
    for (const [id, m] of models.entries())
      for (const { threads, lanes } of pageConfigs) {
        const cdp = await Cdp.launch(
          chromium,
          `${base}/?device=wasm&threads=${threads}&lanes=${lanes}`,
          [`--user-data-dir=${path.join(dir, `profile-model-${id}-${threads}-${lanes}`)}`],
        );
        try {
          await cdp.waitFor('window.eflip && window.eflip.ready', 60_000);
          const loadBefore = load();
          const r = await cdp.eval(`window.eflip.timeModel(${o.clips}, '${id}')`);
          // a model too small for lanes (LANES_MIN_MACS_PER_IMAGE) ran as the 1-thread page did
          if (lanes && !r.lanes) continue;
          modelRuns.push({
            model: m.name === 'served' ? (o.model ?? 'assets/demo/model.safetensors') : m.name,
            threads: r.threads,
            /** Web Workers running whole clips' front-end, one wasm thread each (0: none) */
            lanes: r.lanes,
            crossOriginIsolated: r.isolated,
            msPerClip: +r.msPerClip.toFixed(2),
            minMsPerClip: +r.min.toFixed(2),
            clips: r.runs,
            load: `${loadBefore} → ${load()}`,
          });
        } finally {
          await cdp.close();
        }
      }
    const runs: Record<string, unknown>[] = [];
    const combos = o.devices.flatMap((device) =>
      (device === 'wasm' ? o['model-in'] : ['worker']).flatMap((where) =>
        o['face-in'].map((face) => ({ device, where, face })),
      ),
    );
    for (const { device, where, face } of combos) {
      const cdp = await Cdp.launch(
        chromium,
        `${base}/?device=${device}&worker=${where === 'worker' ? 1 : 0}&faceworker=${face === 'worker' ? 1 : 0}`,
        [
          `--user-data-dir=${path.join(dir, `profile-${device}-${where}-${face}`)}`,
          '--enable-unsafe-webgpu',
          '--use-fake-device-for-media-stream',
          '--use-fake-ui-for-media-stream',
          `--use-file-for-fake-video-capture=${y4m}`,
        ],
      );
      try {
        await cdp.waitFor('window.eflip && window.eflip.ready', 60_000);
        await cdp.eval("document.getElementById('cam-start').click()");
        const at = (n: number) =>
          cdp!.waitFor(
            `window.eflip.camera && (window.eflip.camera.error ? window.eflip.camera : window.eflip.camera.totals.since && window.eflip.camera.totals.frames >= ${n} && window.eflip.camera)`,
            60_000 + n * 5_000,
          );
        // two readings of the page's running totals: after the warm-up, and `frames` later; the
        // figures are their differences (the steady state a webcam session spends its time in).
        // Both after the totals start (`since`: the page zeroes them after its first frame), so
        // --warmup 0 cannot difference a reading from before that reset
        const a = await at(o.warmup);
        if (a.error) throw new Error(`the page's camera failed: ${a.error}`);
        const c = await at(a.totals.frames + o.frames);
        if (c.error) throw new Error(`the page's camera failed: ${c.error}`);
        const loadAfter = load();
        const runtime = await cdp.eval("document.getElementById('runtime').textContent");
        const minus = (x: any, y: any): any =>
          typeof x === 'number'
            ? x - y
            : Object.fromEntries(Object.keys(x).map((k) => [k, minus(x[k], y[k])]));
        const tt = minus(c.totals, a.totals);
        const slots = minus(c.slots, a.slots);
        const cameraMs = c.cameraMs - a.cameraMs;
        const readerFrames = c.readerFrames - a.readerFrames;
        const r2 = (x: number) => +x.toFixed(2);
        runs.push({
          device,
          modelIn: c.modelIn,
          /** where the full detections and crop checks ran: 'worker (wasm, 1 thread)' or 'page' */
          detectorIn: c.detectorIn,
          modelRuntime: runtime,
          faceBackend: `tfjs-${c.backend}`,
          /** how camera frames became RGB: 'decoder yuv' (the I420 planes) or 'canvas' */
          frameSource: c.frameSource,
          frames: tt.frames,
          facesFound: c.faces - a.faces,
          // camera frames tracked per second of the page's time: at most 25 now (frames between
          // the model's 40 ms slots are dropped untracked, web/slots.js), fewer when the page
          // is slower — the slots it missed are then repeats of the previous frame
          framesPerSecond: r2((1000 * tt.frames) / tt.frame),
          // the frames before: Chromium's first runs of the hot paths (tier-up) included
          warmup: {
            frames: a.totals.frames,
            framesPerSecond: r2((1000 * a.totals.frames) / Math.max(1, a.totals.frame)),
          },
          // the model's timeline, per second of camera time (the camera's frame times): camera
          // frames the page saw, slots filled (25), frames the reader received (slots with a
          // face), and the share of slots that got a new camera frame (the rest: repeats)
          camera: {
            seconds: r2(cameraMs / 1000),
            framesSeenPerSecond: r2((1000 * slots.frames) / cameraMs),
            slotsPerSecond: r2((1000 * slots.slots) / cameraMs),
            readerFramesPerSecond: r2((1000 * readerFrames) / cameraMs),
            newFrameShare: r2(slots.used / slots.slots),
            dropped: slots.dropped,
            repeated: slots.repeats,
            clock: c.clock,
          },
          msPerFrame: {
            detector: r2(tt.detect / tt.frames),
            landmarks: r2(tt.landmarks / tt.frames),
            trackCheck: r2(tt.verify / tt.frames),
            model: r2(tt.model / tt.frames),
            frameGrab: r2(tt.grab / tt.frames),
            waitForModel: r2(tt.waitModel / tt.frames),
            waitForCamera: r2(tt.waitCamera / tt.frames),
            total: r2(tt.frame / tt.frames),
          },
          msPerCall: {
            detector: r2(tt.detect / Math.max(1, tt.calls.detect)),
            landmarks: r2(tt.landmarks / Math.max(1, tt.calls.landmarks)),
            trackCheck: r2(tt.verify / Math.max(1, tt.calls.verify)),
          },
          calls: tt.calls,
          load: loadAfter,
        });
        await cdp.eval("document.getElementById('cam-stop').click()");
      } finally {
        await cdp.close();
      }
    }
    const result = {
      bench: 'webapp',
      chromium: spawnSync(chromium, ['--version'], { encoding: 'utf8' }).stdout.trim(),
      camera: '640x480 fake camera at 30 frames/s like a webcam (messi5 photo, drifting)',
      framesPerSecondIs:
        "camera frames tracked per second of page time: at most the model's 25 (frames between its 40 ms slots are dropped untracked); runs[].camera: the reader's timeline per second of camera time",
      cpus: os.cpus().length,
      model: o.model ?? 'assets/demo/model.safetensors',
      modelOnly: modelRuns,
      runs,
    };
    if (o.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`${result.chromium}, ${result.camera}; model ${result.model}`);
      for (const m of modelRuns as any[])
        console.log(
          `  model alone (${m.model}), wasm ${m.threads} thread${m.threads > 1 ? 's' : ''}${m.lanes ? `, ${m.lanes} front-end lanes` : ''}: ${m.msPerClip} ms/clip (min ${m.minMsPerClip}; load ${m.load})`,
        );
      for (const r of runs as any[])
        console.log(
          `  model on ${r.device.padEnd(6)} in ${r.modelIn.padEnd(6)} detector in ${r.detectorIn.split(' ')[0].padEnd(6)} ${String(r.framesPerSecond).padStart(6)} frames/s tracked (${Math.round(100 * r.camera.newFrameShare)} % of the reader's ${r.camera.slotsPerSecond} slots/s new, the rest repeats)  ms/frame: detector ${r.msPerFrame.detector}, landmarks ${r.msPerFrame.landmarks}, track check ${r.msPerFrame.trackCheck}, model ${r.msPerFrame.model}, total ${r.msPerFrame.total}; the ${r.warmup.frames} frames before: ${r.warmup.framesPerSecond} frames/s  (${r.modelRuntime}; load ${r.load})`,
        );
    }
    return 0;
  } finally {
    await server?.close(1000);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** A random-weight model of `variant` (500 LRW words, seed 1) as a checkpoint (served as fp32
 *  ONNX) and its int8 export (`eflip export --quantize int8`'s code), calibrated on 8 random
 *  clips: for timing only. */
async function variantModels(variant: string, dir: string) {
  const file = path.join(dir, `${variant}.safetensors`);
  const model = createModel({ variant, classes: 500 }, { seed: 1 });
  try {
    saveModel(file, model, { labels: resolveLabels('lrw', 500) });
  } finally {
    model.dispose();
  }
  const calib = Array.from({ length: 8 }, (_, i) => {
    const c = randomClip(29, 1000 + i);
    return { data: c.data, dims: [1, 1, 29, 88, 88] };
  });
  const ck = loadCheckpoint(file);
  const q = await exportInt8(ck, calib);
  const int8 = path.join(dir, `${variant}.int8.onnx`);
  writeFileSync(int8, q.bytes);
  // its int8 front-end/back-end pair beside it (what `eflip export --features` writes): the
  // page's front-end lanes and streaming use it
  const pair = await exportInt8Features(ck, calib);
  writeFileSync(path.join(dir, `${variant}.int8.frontend.onnx`), pair.frontend.bytes);
  writeFileSync(path.join(dir, `${variant}.int8.backend.onnx`), pair.backend.bytes);
  return [
    { file, name: `${variant} fp32 (random weights)` },
    { file: int8, name: `${variant} int8 (random weights, calibrated on random clips)` },
  ];
}
