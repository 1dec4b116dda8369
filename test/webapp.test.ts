// The web app in headless Chromium, loaded from the real `eflip serve`: a real sample clip is
// uploaded through the page's file input (DevTools Protocol over --remote-debugging-pipe), read
// in the browser (frames from <video>, eflip's pre-processing, onnxruntime-web), and the page
// must show the same words and probabilities as `eflip predict` with the same ONNX model.
// Also: a file that is not a video gets a clear message; a screenshot at phone width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cdp } from '../src/serve/cdp.js';
import { decodeVideo } from '../src/data/video.js';
import { writeY4m } from '../src/data/video_writer.js';
import { composeVideo, FaceDetector, roiFromVideo } from '../src/roi/index.js';
import { ROOT, tempDir } from './onnx_helpers.js';
import { demoOnnxAndCliAnswers, eflipSync, startServe, type Served } from './serve_helpers.js';
import { CHROMIUM } from './browser_helpers.js';
import { photoVideo } from './data_helpers.js';

const SAMPLES = ['ABOUT_00001.mp4', 'ABUSE_00001.mp4'].map((f) =>
  path.join(ROOT, 'assets/samples', f),
);
/** where the screenshot is kept for a look (EFLIP_SCREENSHOT_DIR), else the temp dir */
const SHOTS = process.env.EFLIP_SCREENSHOT_DIR;

test(
  'web app: upload a sample clip in headless Chromium → the same words as eflip predict',
  { timeout: 300_000 },
  async (t) => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} not found: run \`npm run setup\` (installs Debian's chromium) or set EFLIP_CHROMIUM`,
    );
    const { dir, cleanup } = tempDir('eflip-webapp-');
    let s: Served | null = null;
    let cdp: Cdp | null = null;
    try {
      const { onnx, expected } = demoOnnxAndCliAnswers(dir, SAMPLES);
      s = await startServe(['--model', onnx]);
      // no ?device: the page picks. Headless Chromium with --enable-unsafe-webgpu offers only a
      // software WebGPU adapter (SwiftShader, isFallbackAdapter), slower than wasm: wasm it is
      cdp = await Cdp.launch(CHROMIUM, `${s.base}/`, [
        `--user-data-dir=${path.join(dir, 'profile')}`,
        '--enable-unsafe-webgpu',
      ]);
      await cdp.waitFor('window.eflip && window.eflip.ready', 30_000);
      assert.equal(
        await cdp.eval('self.crossOriginIsolated'),
        true,
        'COOP/COEP make the page cross-origin isolated',
      );
      // multi-threaded wasm in the isolated page: half the cores, up to 4 (ort-web's default)
      const cores = await cdp.eval('navigator.hardwareConcurrency');
      const tm = await cdp.eval('window.eflip.timeModel(3, null, 0)');
      t.diagnostic(`model alone: ${tm.msPerClip.toFixed(1)} ms/clip, ${tm.runtime}`);
      assert.equal(tm.threads, Math.min(4, Math.ceil(cores / 2)));
      assert.equal(tm.isolated, true);
      // the demo model is too small for front-end lanes (LANES_MIN_MACS_PER_IMAGE); the page
      // with lanes: test/browser.test.ts
      assert.equal(tm.lanes, 0);
      assert.match(
        tm.runtime,
        new RegExp(
          `Running on wasm, ${tm.threads} threads?${tm.lanes ? `, whole clips on ${tm.lanes} lanes` : ''} \\(WebGPU has no hardware adapter here, so wasm runs instead\\)\\.`,
        ),
      );
      assert.ok(tm.msPerClip > 0 && tm.msPerClip < 60_000);
      assert.match(
        await cdp.eval("document.getElementById('model').selectedOptions[0].textContent"),
        /demo \(10 words\)/,
      );

      for (const [i, f] of SAMPLES.entries()) {
        const t0 = Date.now();
        await cdp.upload('#file', [f]);
        const got = await cdp.waitFor(
          `window.eflip.error ? {error: window.eflip.error} : window.eflip.result && window.eflip.result.file === ${JSON.stringify(path.basename(f))} && window.eflip.result`,
          120_000,
        );
        assert.equal(got.error, undefined, got.error);
        t.diagnostic(
          `${path.basename(f)}: ${got.frames} frames, decode ${got.ms.decode.toFixed(0)} ms (${got.decode}), model ${got.ms.model.toFixed(0)} ms on ${got.device}; page total ${Date.now() - t0} ms`,
        );
        assert.equal(got.device, 'wasm');
        assert.equal(got.frames, expected[i].frames);
        assert.equal(got.top[0].label, expected[i].top[0].label, 'top-1 word');
        got.top.forEach((e: { label: string; probability: number }, k: number) => {
          assert.equal(e.label, expected[i].top[k].label, `rank ${k + 1}`);
          assert.ok(
            Math.abs(e.probability - expected[i].top[k].probability) < 1e-3,
            `${path.basename(f)} rank ${k + 1}: page ${e.probability} vs CLI ${expected[i].top[k].probability}`,
          );
        });
        // what is shown is what was computed
        const shown = await cdp.eval(
          "[...document.querySelectorAll('#topk li')].map(li => li.getAttribute('aria-label'))",
        );
        assert.equal(shown.length, 5);
        assert.equal(
          shown[0],
          `${expected[i].top[0].label}: ${(100 * got.top[0].probability).toFixed(1)} percent`,
        );
      }

      // a long video (three clips joined, 87 frames): the streaming timeline, as `eflip stream` gives it
      const long = path.join(dir, 'long.mp4');
      const cat = spawnSync('ffmpeg', [
        '-v',
        'error',
        ...SAMPLES.concat(SAMPLES[0]).flatMap((f) => ['-i', f]),
        '-filter_complex',
        'concat=n=3:v=1:a=0',
        '-c:v',
        'libx264',
        '-crf',
        '18',
        '-pix_fmt',
        'yuv420p',
        long,
      ]);
      assert.equal(cat.status, 0, String(cat.stderr));
      const stream = eflipSync([
        'stream',
        long,
        '--checkpoint',
        onnx,
        '--min-prob',
        '0.2',
        '--json',
      ]);
      assert.equal(stream.code, 0, stream.stderr);
      const segs = JSON.parse(stream.stdout).segments as {
        word: string;
        start: number;
        end: number;
        probability: number;
      }[];
      await cdp.upload('#file', [long]);
      const lg = await cdp.waitFor(
        "window.eflip.error ? {error: window.eflip.error} : window.eflip.result && window.eflip.result.file === 'long.mp4' && window.eflip.result",
        180_000,
      );
      assert.equal(lg.error, undefined, lg.error);
      t.diagnostic(
        `long.mp4: ${lg.frames} frames, ${lg.segments.length} timeline segments (CLI ${segs.length}); decode ${lg.ms.decode.toFixed(0)} ms, timeline ${lg.ms.timeline.toFixed(0)} ms`,
      );
      assert.equal(
        lg.segments.length,
        segs.length,
        `page ${JSON.stringify(lg.segments.map((x: any) => x.word))} vs CLI ${JSON.stringify(segs.map((x) => x.word))}`,
      );
      lg.segments.forEach((x: any, k: number) => {
        assert.equal(x.word, segs[k].word, `segment ${k}`);
        assert.ok(
          Math.abs(x.start - segs[k].start) < 1e-6 && Math.abs(x.end - segs[k].end) < 1e-6,
          `segment ${k} times`,
        );
        assert.ok(
          Math.abs(x.probability - segs[k].probability) < 1e-3,
          `segment ${k}: ${x.probability} vs ${segs[k].probability}`,
        );
      });
      assert.equal(
        await cdp.eval("document.getElementById('timeline').children.length"),
        segs.length,
      );

      // not a video: a clear message, no result
      const junk = path.join(dir, 'notes.mp4');
      writeFileSync(junk, 'this is a text file, not a video\n'.repeat(50));
      await cdp.upload('#file', [junk]);
      const err = await cdp.waitFor('window.eflip.error', 30_000);
      assert.match(err, /notes\.mp4 is not a video/);
      assert.match(await cdp.eval("document.getElementById('message').textContent"), /not a video/);

      // show the last good result again and take a phone-width screenshot
      await cdp.upload('#file', [SAMPLES[0]]);
      await cdp.waitFor(
        "window.eflip.result && window.eflip.result.file === 'ABOUT_00001.mp4'",
        120_000,
      );
      const png = await cdp.screenshot(390, 844);
      assert.ok(
        png.subarray(1, 4).toString() === 'PNG' && png.length > 10_000,
        'a non-trivial PNG',
      );
      const shotPath = path.join(SHOTS ?? dir, 'webapp-phone.png');
      writeFileSync(shotPath, png);
      // the layout holds at phone width: nothing wider than the viewport
      const wide = await cdp.eval('document.documentElement.scrollWidth');
      assert.ok(wide <= 390, `page is ${wide} px wide at a 390 px viewport`);
      if (SHOTS)
        writeFileSync(path.join(SHOTS, 'webapp-desktop.png'), await cdp.screenshot(1100, 900));
    } finally {
      await cdp?.close();
      await s?.stop('SIGKILL');
      cleanup();
    }
  },
);

test(
  'web app: webcam mode on a fake camera finds the face, draws it, reads words; denied permission and no camera are explained',
  { timeout: 300_000 },
  async (t) => {
    const { dir, cleanup } = tempDir('eflip-webcam-');
    let s: Served | null = null;
    let cdp: Cdp | null = null;
    try {
      // a real photograph placed off-centre in 640×480, drifting: the fake camera's video (.y4m)
      const v = await decodeVideo(path.join(ROOT, 'test/fixtures/roi/messi5.jpg'));
      const AT: [number, number] = [420, 300];
      const frames = composeVideo(
        { data: v.data, width: v.width, height: v.height, channels: 3 },
        Array.from({ length: 50 }, (_, k) => ({
          dx: Math.round(8 * Math.sin(k / 8)),
          dy: 0,
          degrees: 4 * Math.sin(k / 11),
        })),
        { width: 640, height: 480, anchor: [244, 110], zoom: 1.6, at: AT },
      );
      const y4m = path.join(dir, 'face.y4m');
      writeY4m(y4m, frames.data, { width: 640, height: 480, fps: 25 });
      const onnx = path.join(dir, 'demo.onnx');
      assert.equal(
        eflipSync([
          'export',
          '--checkpoint',
          path.join(ROOT, 'assets/demo/model.safetensors'),
          '--out',
          onnx,
          '--features',
        ]).code,
        0,
      );
      s = await startServe(['--model', onnx]);
      cdp = await Cdp.launch(CHROMIUM, `${s.base}/?device=wasm`, [
        `--user-data-dir=${path.join(dir, 'profile')}`,
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${y4m}`,
      ]);
      await cdp.waitFor('window.eflip && window.eflip.ready', 30_000);
      await cdp.eval("document.getElementById('cam-start').click()");
      const cam = await cdp.waitFor(
        'window.eflip.camera && (window.eflip.camera.error ? window.eflip.camera : window.eflip.camera.frames >= 40 && window.eflip.camera)',
        150_000,
      );
      assert.equal(cam.error, undefined, cam.error);
      t.diagnostic(
        `webcam: ${cam.frames} frames, face in ${cam.faces}, ${cam.fps.toFixed(1)} frames/s, landmarks ${cam.msTrack.toFixed(0)} ms after the frame, model ${cam.msModel.toFixed(0)} ms per frame (tfjs-${cam.backend}); top ${cam.top[0]?.label} ${cam.top[0]?.probability.toFixed(3)}; words ${cam.words.join(' ')}`,
      );
      assert.ok(
        cam.faces >= cam.frames * 0.9,
        `face found in ${cam.faces} of ${cam.frames} frames`,
      );
      // the face box is around the off-centre face (the mouth anchor sits in its lower half)
      const b = cam.box;
      assert.ok(
        b &&
          b.x < AT[0] &&
          AT[0] < b.x + b.width &&
          b.y < AT[1] &&
          AT[1] < b.y + b.height + 0.3 * b.height,
        `face box ${JSON.stringify(b)} is not around ${AT}`,
      );
      assert.equal(cam.top.length, 5, 'the streaming reader gives top-5 words');
      assert.match(cam.modelIn, /^worker, \d+ threads?$/, 'the model runs in its Web Worker');
      // the full detections and crop checks ran in the detector's Web Worker
      assert.match(cam.detectorIn, /^worker \(wasm/, cam.detectorIn);
      assert.ok(cam.detectorWorkerCalls > 0, 'the detector worker answered no call');
      // the detector worker fails mid-run: the page detects from then on, and still finds the face
      await cdp.eval('window.eflip.failFaceWorker()');
      const after = await cdp.waitFor(
        `window.eflip.camera && (window.eflip.camera.error ? window.eflip.camera : window.eflip.camera.frames >= ${cam.frames + 30} && window.eflip.camera)`,
        150_000,
      );
      assert.equal(after.error, undefined, after.error);
      assert.match(after.detectorIn, /^page \(the detector worker failed: /, after.detectorIn);
      assert.ok(
        after.totals.calls.detect > cam.totals.calls.detect,
        'no detection ran after the worker failed',
      );
      assert.ok(
        after.faces - cam.faces >= (after.frames - cam.frames) * 0.9,
        `after the worker failed: face found in ${after.faces - cam.faces} of ${after.frames - cam.frames} frames`,
      );
      t.diagnostic(
        `detector: ${cam.detectorIn}, ${cam.detectorWorkerCalls} calls answered there; then ${after.detectorIn}`,
      );
      assert.match(
        await cdp.eval("document.getElementById('cam-stats').textContent"),
        /frames\/s · face \d+ ms after the frame · model \d+ ms per frame/,
      );
      const png = await cdp.screenshot(1000, 1100);
      assert.ok(png.length > 10_000);
      writeFileSync(path.join(SHOTS ?? dir, 'webapp-camera.png'), png);
      await cdp.eval("document.getElementById('cam-stop').click()");
      await cdp.waitFor("!document.getElementById('cam-start').disabled", 30_000);

      // permission denied (a camera is there; the user said no — set over CDP as a browser's
      // prompt would): the page says so and how to allow it
      await cdp.close();
      cdp = await Cdp.launch(CHROMIUM, `${s.base}/?device=wasm`, [
        `--user-data-dir=${path.join(dir, 'profile2')}`,
        '--use-fake-device-for-media-stream',
      ]);
      await cdp.waitFor('window.eflip && window.eflip.ready', 30_000);
      await cdp.send('Browser.setPermission', {
        permission: { name: 'camera' },
        setting: 'denied',
        origin: s.base,
      });
      await cdp.eval("document.getElementById('cam-start').click()");
      const denied = await cdp.waitFor('window.eflip.camera && window.eflip.camera.error', 30_000);
      assert.match(denied, /^Camera permission was denied: allow the camera for this page/);
      assert.equal(await cdp.eval("document.getElementById('message').textContent"), denied);
      assert.equal(
        await cdp.eval("document.getElementById('message').getAttribute('role')"),
        'alert',
      );
      assert.equal(
        await cdp.eval("document.getElementById('cam-start').disabled"),
        false,
        'Start can be pressed again once allowed',
      );
      t.diagnostic(`denied: ${denied}`);

      // no camera at all (permission granted, no device): a different message
      await cdp.close();
      cdp = await Cdp.launch(CHROMIUM, `${s.base}/?device=wasm`, [
        `--user-data-dir=${path.join(dir, 'profile3')}`,
        '--use-fake-ui-for-media-stream',
      ]);
      await cdp.waitFor('window.eflip && window.eflip.ready', 30_000);
      await cdp.eval("document.getElementById('cam-start').click()");
      const none = await cdp.waitFor('window.eflip.camera && window.eflip.camera.error', 30_000);
      assert.match(none, /^No camera found: connect one, or upload a video instead/);
      assert.equal(await cdp.eval("document.getElementById('message').textContent"), none);
      assert.equal(await cdp.eval("document.getElementById('cam-box').hidden"), true);
      t.diagnostic(`no camera: ${none}`);
    } finally {
      await cdp?.close();
      await s?.stop('SIGKILL');
      cleanup();
    }
  },
);

test("web app: the page's yuv420p → RGB is ffmpeg's rgb24, byte for byte", async () => {
  const { dir, cleanup } = tempDir('eflip-yuv-');
  try {
    // two real videos: the messi5 photo (548×342, even) and a sample clip (a 250×190 crop: rows not a multiple of 8 pixels)
    const cases: [string, string[]][] = [
      [path.join(ROOT, 'test/fixtures/roi/messi5.jpg'), ['-loop', '1', '-t', '0.2']],
      [SAMPLES[0], []],
    ];
    const { i420ToRgb } = await import(pathToFileURL(path.join(ROOT, 'web/frames.js')).href);
    for (const [k, [src, pre]] of cases.entries()) {
      const clip = path.join(dir, `c${k}.mp4`);
      const vf = k === 0 ? 'scale=trunc(iw/2)*2:trunc(ih/2)*2' : 'crop=250:190:3:5';
      const enc = spawnSync('ffmpeg', [
        ...['-v', 'error', ...pre, '-i', src, '-r', '25', '-vf', vf],
        ...['-c:v', 'libx264', '-crf', '14', '-pix_fmt', 'yuv420p', clip],
      ]);
      assert.equal(enc.status, 0, String(enc.stderr));
      const raw = (fmt: string) =>
        spawnSync(
          'ffmpeg',
          ['-v', 'error', '-i', clip, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', fmt, '-'],
          {
            maxBuffer: 1 << 26,
          },
        ).stdout as Buffer;
      const [w, h] = k === 0 ? [548, 342] : [250, 190];
      const yuv = raw('yuv420p');
      const cw = Math.ceil(w / 2),
        ch = Math.ceil(h / 2);
      assert.equal(yuv.length, w * h + 2 * cw * ch);
      const layout = [
        { offset: 0, stride: w },
        { offset: w * h, stride: cw },
        { offset: w * h + cw * ch, stride: cw },
      ];
      const mine: Uint8Array = i420ToRgb(yuv, layout, w, h);
      const ff = raw('rgb24');
      let differ = 0;
      for (let i = 0; i < ff.length; i++) differ += mine[i] !== ff[i] ? 1 : 0;
      assert.equal(differ, 0, `${path.basename(src)}: ${differ} of ${ff.length} RGB values differ`);
    }
  } finally {
    cleanup();
  }
});

test(
  'web app: "find the face" upload reads arbitrary footage like eflip predict --face',
  { timeout: 300_000 },
  async (t) => {
    const { dir, cleanup } = tempDir('eflip-webface-');
    let s: Served | null = null;
    let cdp: Cdp | null = null;
    try {
      const clip = path.join(dir, 'messi.mp4');
      photoVideo(clip, 1, ['-crf', '12']);
      const onnx = path.join(dir, 'demo.onnx');
      assert.equal(
        eflipSync([
          'export',
          '--checkpoint',
          path.join(ROOT, 'assets/demo/model.safetensors'),
          '--out',
          onnx,
          '--features',
        ]).code,
        0,
      );
      const cli = eflipSync([
        'predict',
        clip,
        '--checkpoint',
        onnx,
        '--face',
        '--top',
        '5',
        '--json',
      ]);
      assert.equal(cli.code, 0, cli.stderr);
      const want = JSON.parse(cli.stdout).results[0];
      s = await startServe(['--model', onnx]);
      cdp = await Cdp.launch(CHROMIUM, `${s.base}/?device=wasm`, [
        `--user-data-dir=${path.join(dir, 'profile')}`,
      ]);
      await cdp.waitFor('window.eflip && window.eflip.ready', 30_000);
      await cdp.eval("document.getElementById('face').checked = true");
      await cdp.upload('#file', [clip]);
      const got = await cdp.waitFor(
        'window.eflip.error ? {error: window.eflip.error} : window.eflip.result',
        180_000,
      );
      assert.equal(got.error, undefined, got.error);
      assert.equal(got.decode, 'face ROI');
      assert.equal(got.frames, want.frames);
      const d = Math.max(
        ...got.top.map((e: any, k: number) => Math.abs(e.probability - want.top[k].probability)),
      );
      t.diagnostic(
        `messi.mp4 --face: page top-1 ${got.top[0].label} ${got.top[0].probability.toFixed(4)}, CLI ${want.top[0].label} ${want.top[0].probability}; max |Δp| over top-5 ${d.toExponential(2)} (frames: ${got.frameSource}); ${got.ms.decode.toFixed(0)} ms`,
      );
      // the decoder's yuv420p planes through swscale's own rgb24 arithmetic (web/frames.js):
      // the same RGB frames as ffmpeg, so — with the same landmark runtime — the same landmarks
      assert.equal(got.frameSource, 'decoder yuv', 'RGB from the decoder planes, not a canvas');
      const node = await roiFromVideo(clip, {
        faceDetector: await FaceDetector.create({ landmarkRuntime: 'tfjs', thread: false }),
        cache: false,
        fps: 25,
      });
      const pxApart = (a: number[][][], b: number[][][]) =>
        Math.max(
          ...a.flatMap((f, t) => f.map((p, i) => Math.hypot(p[0] - b[t][i][0], p[1] - b[t][i][1]))),
        );
      const sameRuntime = pxApart(got.landmarks, node.info.landmarks);
      // `eflip predict --face` runs the landmark net on onnxruntime-node (src/roi/landmarks_onnx.ts,
      // ~1.5e-7 of the crop from tfjs per call); the tracker feeds each frame's landmarks into the
      // next crop, so over 25 frames the two runtimes drift apart by a fraction of a pixel
      const cliRoi = await roiFromVideo(clip, {
        faceDetector: await FaceDetector.create({ thread: false }),
        cache: false,
        fps: 25,
      });
      const runtimes = pxApart(got.landmarks, cliRoi.info.landmarks);
      t.diagnostic(
        `landmarks: page vs Node on tfjs ${sameRuntime.toFixed(4)} px, vs Node on onnxruntime (the CLI's) ${runtimes.toFixed(3)} px`,
      );
      assert.ok(sameRuntime < 1e-3, `page and Node (tfjs) landmarks ${sameRuntime} px apart`);
      assert.ok(runtimes < 0.5, `page and CLI landmarks ${runtimes} px apart`);
      // a mouth of a small face (eyes ~20 px apart) is magnified ~4× into the ROI: 0.2 px of
      // landmarks moves the words' probabilities by about a hundredth
      assert.equal(got.top[0].label, want.top[0].label, 'top-1 as eflip predict --face');
      got.top.forEach((e: any) => {
        const w = want.top.find((x: any) => x.label === e.label);
        assert.ok(
          !w || Math.abs(e.probability - w.probability) < 0.05,
          `${e.label}: page ${e.probability} vs CLI ${w?.probability}`,
        );
      });
      // annotated playback: box, landmarks, ROI and word drawn over the video
      const drawn = await cdp.eval(
        `(() => { const c = document.getElementById('upload-overlay'); if (c.hidden) return -1; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()`,
      );
      assert.ok(drawn > 500, `overlay pixels drawn: ${drawn}`);
      if (SHOTS)
        writeFileSync(path.join(SHOTS, 'webapp-face-upload.png'), await cdp.screenshot(900, 1400));
    } finally {
      await cdp?.close();
      await s?.stop('SIGKILL');
      cleanup();
    }
  },
);
