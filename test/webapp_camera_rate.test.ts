// The webcam's frame rate for the model (web/slots.js in the page): Chromium's fake camera plays
// a .y4m at 30 and at 50 frames/s (a webcam's rates, faster than the model's 25), and the
// streaming reader must receive 25 frames per second of camera time — the frames between slots
// dropped, the slots a busy page missed repeated — counted by the reader itself (the worker's
// frame count) against the camera's own frame times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Cdp } from '../src/serve/cdp.js';
import { writeFakeCamera } from '../src/cli/bench/webapp.js';
import { tempDir } from './onnx_helpers.js';
import { startServe, type Served } from './serve_helpers.js';
import { CHROMIUM } from './browser_helpers.js';

/** seconds of camera time between the two readings */
const SPAN = 8;

test(
  'web app: a 30 and a 50 frames/s camera feed the reader 25 frames per second of camera time',
  { timeout: 300_000 },
  async (t) => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: run \`npm run setup\``);
    const { dir, cleanup } = tempDir('eflip-camrate-');
    let s: Served | null = null;
    let cdp: Cdp | null = null;
    try {
      s = await startServe([]);
      for (const fps of [30, 50]) {
        const y4m = path.join(dir, `camera${fps}.y4m`);
        await writeFakeCamera(y4m, fps); // the bench's camera
        cdp = await Cdp.launch(CHROMIUM, `${s.base}/?device=wasm`, [
          `--user-data-dir=${path.join(dir, `profile${fps}`)}`,
          '--use-fake-device-for-media-stream',
          '--use-fake-ui-for-media-stream',
          `--use-file-for-fake-video-capture=${y4m}`,
        ]);
        await cdp.waitFor('window.eflip && window.eflip.ready', 60_000);
        await cdp.eval("document.getElementById('cam-start').click()");
        const ready = (x: string) =>
          `window.eflip.camera && (window.eflip.camera.error ? window.eflip.camera : ${x} && window.eflip.camera)`;
        // after the face models' first runs: the reader has had a window of frames
        const a = await cdp.waitFor(ready('window.eflip.camera.readerFrames >= 29'), 120_000);
        assert.equal(a.error, undefined, a.error);
        const b = await cdp.waitFor(
          ready(`window.eflip.camera.cameraMs >= ${a.cameraMs + SPAN * 1000}`),
          120_000,
        );
        assert.equal(b.error, undefined, b.error);
        const sec = (b.cameraMs - a.cameraMs) / 1000;
        const fed = b.readerFrames - a.readerFrames;
        const slots = b.slots.slots - a.slots.slots;
        const seen = b.slots.frames - a.slots.frames;
        const used = b.slots.used - a.slots.used;
        const rate = fed / sec;
        t.diagnostic(
          `${fps} frames/s camera (frames timed by ${b.clock}): ${seen} camera frames in ${sec.toFixed(2)} s of camera time (${(seen / sec).toFixed(1)}/s); ${used} tracked (${(used / sec).toFixed(1)}/s), ${b.slots.dropped - a.slots.dropped} dropped between slots, ${b.slots.repeats - a.slots.repeats} slots repeated; the reader received ${fed} frames = ${rate.toFixed(2)} per second of camera time (slots ${(slots / sec).toFixed(2)}/s); faces in ${b.faces} of ${b.frames} tracked frames`,
        );
        assert.match(String(b.clock), /^(captureTime|mediaTime)$/, 'frames timed by the camera');
        // the 50 frames/s camera is seen faster than the model's rate, so slots drop frames (the
        // frame callback reports the latest frame: a busy page sees fewer than the camera gives,
        // and a 30 frames/s camera on a loaded 2-core CI machine was seen at 22.6/s — then slots
        // repeat instead, which the rate checks below cover as well)
        if (fps === 50)
          assert.ok(seen / sec > 26, `the page saw ${(seen / sec).toFixed(1)} camera frames/s`);
        // 25 slots per second of camera time; the reader got them (±1 frame at each end, the
        // worker's answers up to two pushes behind, a slot without a face is not fed)
        assert.ok(Math.abs(slots / sec - 25) <= 0.5, `${(slots / sec).toFixed(2)} slots/s`);
        assert.ok(rate > 23 && rate < 26.5, `the reader got ${rate.toFixed(2)} frames/s`);
        // nothing tracked that was then dropped: at most one tracked frame per slot
        assert.ok(used <= slots, `${used} frames tracked for ${slots} slots`);
        if (fps === 50) assert.ok(b.slots.dropped > 0, 'a 50 frames/s camera has frames dropped');
        await cdp.eval("document.getElementById('cam-stop').click()");
        await cdp.close();
        cdp = null;
      }
    } finally {
      await cdp?.close();
      await s?.stop('SIGKILL');
      cleanup();
    }
  },
);
