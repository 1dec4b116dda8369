// The inference commands end to end on real mp4 files (ffmpeg-made): export --features,
// predict with both runtimes (same answers), arbitrary video sizes/fps, stream --json, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './onnx_helpers.js';
import { torchInit } from './onnx_torch_ref.js';

const bin = path.join(ROOT, 'bin/eflip.js');
let tmp: ReturnType<typeof tempDir>;
let weights: string;
const videos: Record<string, string> = {};

function eflip(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
}

before(() => {
  tmp = tempDir('eflip-infer-cli-');
  weights = torchInit(tmp.dir, 'T', 11);
  const ff = (name: string, src: string, extra: string[]) => {
    videos[name] = path.join(tmp.dir, `${name}.mp4`);
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      src,
      ...extra,
      '-pix_fmt',
      'yuv420p',
      videos[name],
    ]);
  };
  ff('wide', 'testsrc2=size=320x240:rate=30:duration=1.2', []); // arbitrary size and fps → 30 frames at 25 fps
  ff('lrw', 'mandelbrot=size=256x256:rate=25', ['-frames:v', '29']); // LRW-like 256×256, 29 frames
  ff('roi', 'testsrc=size=96x96:rate=25', ['-frames:v', '20']); // a mouth-ROI video
  videos.corrupt = path.join(tmp.dir, 'corrupt.mp4');
  writeFileSync(
    videos.corrupt,
    new Uint8Array(2000).map((_, i) => (i * 7919) % 251),
  );
});
after(() => tmp?.cleanup());

test('export --features writes three files; predict gives the same top-k with onnx and torch runtimes', () => {
  const onnx = path.join(tmp.dir, 'model.onnx');
  const ex = eflip(['export', '--checkpoint', weights, '--out', onnx, '--features', '--json']);
  assert.equal(ex.status, 0, ex.stderr);
  const summary = JSON.parse(ex.stdout);
  assert.deepEqual(
    summary.files.map((f: any) => f.graph),
    ['full', 'frontend', 'backend'],
  );
  for (const f of summary.files) assert.ok(existsSync(f.file));

  const files = [videos.wide, videos.lrw, videos.roi];
  const a = eflip(['predict', ...files, '--checkpoint', onnx, '--top', '3', '--json']);
  assert.equal(a.status, 0, a.stderr);
  const b = eflip([
    'predict',
    ...files,
    '--checkpoint',
    weights,
    '--runtime',
    'torch',
    '--top',
    '3',
    '--json',
  ]);
  assert.equal(b.status, 0, b.stderr);
  const ra = JSON.parse(a.stdout),
    rb = JSON.parse(b.stdout);
  assert.equal(ra.runtime, 'onnx');
  assert.equal(rb.runtime, 'torch');
  assert.deepEqual(
    ra.results.map((r: any) => r.frames),
    [30, 29, 20],
  );
  ra.results.forEach((r: any, i: number) => {
    assert.equal(r.file, files[i]);
    assert.equal(r.top.length, 3);
    assert.ok(
      r.top[0].probability >= r.top[1].probability && r.top[1].probability >= r.top[2].probability,
    );
    rb.results[i].top.forEach((t: any, k: number) => {
      assert.equal(t.label, r.top[k].label);
      assert.ok(Math.abs(t.probability - r.top[k].probability) < 1e-4);
    });
  });
  // different videos, different answers (pre-processing reaches the network)
  assert.notDeepEqual(ra.results[0].top, ra.results[1].top);
});

test('stream --json: one timeline entry per frame, segments cover the video', () => {
  const r = eflip([
    'stream',
    videos.wide,
    '--checkpoint',
    path.join(tmp.dir, 'model.onnx'),
    '--window',
    '10',
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.frames, 30);
  assert.equal(out.timeline.length, 30);
  assert.equal(out.timeline[29].windowStart, 20);
  assert.ok(Math.abs(out.timeline[29].time - 1.2) < 1e-6);
  assert.ok(out.segments.length >= 1);
  assert.ok(
    Math.abs(out.segments[0].start) < 1e-9 &&
      Math.abs(out.segments[out.segments.length - 1].end - 1.2) < 1e-6,
  );
});

test('predict: a corrupt video is reported, the others still predicted, exit 1; usage errors exit 2', () => {
  const r = eflip(['predict', videos.corrupt, videos.roi, '--checkpoint', weights, '--json']);
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout);
  assert.match(out.results[0].error, /corrupt\.mp4/);
  assert.equal(out.results[1].frames, 20);
  assert.match(r.stderr, /1 of 2 videos failed/);
  assert.equal(eflip(['predict', videos.roi]).status, 2);
  const bad = eflip(['predict', videos.roi, '--checkpoint', videos.corrupt]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /corrupt\.mp4/);
});
