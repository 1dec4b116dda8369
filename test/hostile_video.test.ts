// Issue #16, videos: whatever file a user or a stranger hands `eflip roi` / `predict` / `stream`
// / `eval` — phone videos with rotation metadata, truncated clips, 10-minute videos, files that
// are no video, 1×1 and 8000×8000 frames, variable frame rate, a container that lies about its
// length, odd path names, directories, FIFOs, devices, no ffmpeg on PATH, absurd numeric flags —
// gets a correct result or a one-line error, in bounded time and memory, and no input changes.
// Every video is made here with the real ffmpeg from the real sample clips, the real face photo
// (test/fixtures/roi/messi5.jpg) and lavfi sources.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  assertBounded,
  assertRefused,
  assertUnchanged,
  runEflip,
  snapshot,
  tempDir,
  worst,
  type CliRun,
} from './hostile_helpers.js';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const MODEL = path.join(ROOT, 'assets/demo/model.safetensors');
const SAMPLE = path.join(ROOT, 'assets/samples/ABOUT_00001.mp4'); // a real LRW clip: 29 frames 256×256, moov first
const PHOTO = path.join(ROOT, 'test/fixtures/roi/messi5.jpg');

const dir = tempDir('eflip-hostile-video-');
const IN = path.join(dir, 'in');
const OUT = path.join(dir, 'out');
const v = (name: string) => path.join(IN, name);
let inputs: Map<string, string>;

function ff(...args: string[]): void {
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

before(() => {
  mkdirSync(IN, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  // a face video, upright (10 frames of the photo), and the same pixels stored sideways with a
  // rotate=90 tag, as phones write them (lossless transpose: the upright decode is identical)
  ff(
    '-loop',
    '1',
    '-i',
    PHOTO,
    '-frames:v',
    '6',
    '-r',
    '25',
    '-vf',
    'pad=548:344',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-qp',
    '0',
    '-pix_fmt',
    'yuv420p',
    v('face_up.mp4'),
  );
  ff(
    '-i',
    v('face_up.mp4'),
    '-vf',
    'transpose=1',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-qp',
    '0',
    path.join(OUT, 'sideways.mp4'),
  );
  ff(
    '-i',
    path.join(OUT, 'sideways.mp4'),
    '-c',
    'copy',
    '-metadata:s:v:0',
    'rotate=90',
    v('face_rot.mp4'),
  );
  ff(
    '-i',
    SAMPLE,
    '-vf',
    'transpose=1',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-qp',
    '0',
    path.join(OUT, 'lrw_sideways.mp4'),
  );
  ff(
    '-i',
    path.join(OUT, 'lrw_sideways.mp4'),
    '-c',
    'copy',
    '-metadata:s:v:0',
    'rotate=90',
    v('lrw_rot.mp4'),
  );
  copyFileSync(SAMPLE, v('lrw_up.mp4'));
  // truncated: the real clip cut after 6000 of its 11446 bytes (moov first: the probe still promises 29 frames)
  writeFileSync(v('truncated.mp4'), readFileSync(SAMPLE).subarray(0, 6000));
  writeFileSync(v('moov_only.mp4'), readFileSync(SAMPLE).subarray(0, 1210)); // header, not one frame
  ff(
    '-loop',
    '1',
    '-i',
    PHOTO,
    '-frames:v',
    '10',
    '-r',
    '25',
    '-vf',
    'pad=548:344',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '1',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    path.join(OUT, 'face_fast.mp4'),
  );
  const face = readFileSync(path.join(OUT, 'face_fast.mp4'));
  writeFileSync(v('face_truncated.mp4'), face.subarray(0, Math.floor(face.length * 0.55)));
  // 10 minutes at 5 fps, 64×64 (cheap to make), the same in mkv with its Duration patched to 1 s
  ff(
    '-f',
    'lavfi',
    '-i',
    'color=c=gray:s=64x64:r=5:d=600',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    v('ten_minutes.mp4'),
  );
  ff('-i', v('ten_minutes.mp4'), '-c', 'copy', path.join(OUT, 'ten.mkv'));
  const mkv = readFileSync(path.join(OUT, 'ten.mkv'));
  const at = mkv.indexOf(Buffer.from([0x44, 0x89, 0x88])); // Segment Info → Duration (8-byte float, ms)
  assert.ok(at > 0, 'mkv Duration element');
  mkv.writeDoubleBE(1000, at + 3);
  writeFileSync(v('lies_1s.mkv'), mkv);
  // not videos
  writeFileSync(v('notes.mp4'), 'this is a text file, not a video\n');
  writeFileSync(v('empty.mp4'), '');
  ff('-i', PHOTO, v('photo.png'));
  ff('-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', v('audio_only.mp4'));
  ff(
    '-f',
    'lavfi',
    '-i',
    'sine=d=1',
    '-i',
    PHOTO,
    '-map',
    '0',
    '-map',
    '1',
    '-c:a',
    'aac',
    '-c:v',
    'copy',
    '-disposition:v:0',
    'attached_pic',
    v('song_with_cover.mp4'),
  );
  mkdirSync(v('folder.mp4'));
  execFileSync('mkfifo', [v('fifo.mp4')]);
  // sizes: 1×1 (ffv1: any size), 8000×8000 (two mjpeg frames)
  ff(
    '-f',
    'lavfi',
    '-i',
    'color=c=gray:s=2x2:r=25:d=0.4',
    '-vf',
    'scale=1:1',
    '-c:v',
    'ffv1',
    v('one_pixel.mkv'),
  );
  ff(
    '-f',
    'lavfi',
    '-i',
    'color=c=gray:s=8000x8000:r=25:d=0.08',
    '-c:v',
    'mjpeg',
    '-q:v',
    '31',
    v('huge.mkv'),
  );
  // variable frame rate: the real clip with irregular gaps (frames 0,1,3,4,6,7,... kept, timestamps kept)
  ff(
    '-i',
    SAMPLE,
    '-vf',
    "select='not(eq(mod(n\\,3)\\,2))'",
    '-vsync',
    'vfr',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    v('vfr.mp4'),
  );
  // a 10000×16 strip (scaled to 160000×256 before its crop, ~40 s per second of video, once)
  ff(
    '-f',
    'lavfi',
    '-i',
    'testsrc=s=10000x16:r=25:d=0.4',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    v('strip.mp4'),
  );
  // variable frame rate with one long pause: its average rate is far from count ÷ duration
  ff(
    '-i',
    SAMPLE,
    '-vf',
    "setpts='if(lt(N,10),N*0.001/TB,PTS+5/TB)'",
    '-vsync',
    'vfr',
    v('pause.mp4'),
  );
  // awkward names
  for (const name of ['my clip é 日本.mp4', '-dash.mp4', 'a:b.mp4']) copyFileSync(SAMPLE, v(name));
  inputs = snapshot(IN);
});

const predict = (files: string[], ...extra: string[]) =>
  runEflip(['predict', '--checkpoint', MODEL, '--top', '3', '--json', ...extra, '--', ...files], {
    cwd: IN,
    timeoutMs: 60_000,
  });
const json = (r: CliRun) => JSON.parse(r.stdout);
const warnings = (r: CliRun) => r.stderr.split('\n').filter((l) => /^warning: /.test(l));

test('rotation: a phone video (rotate=90) reads upright — roi landmarks and predict --face match the upright video', async () => {
  const roi = await runEflip(
    ['roi', 'face_up.mp4', 'face_rot.mp4', '--out-dir', OUT, '--no-cache', '--json'],
    { cwd: IN },
  );
  assert.equal(roi.code, 0, roi.stderr);
  const [su, sr] = roi.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(sr.size, '548x344', 'decoded upright (the stored frames are 344×548)');
  assert.equal(su.size, sr.size);
  const a = JSON.parse(readFileSync(path.join(OUT, 'face_up.landmarks.json'), 'utf8')),
    b = JSON.parse(readFileSync(path.join(OUT, 'face_rot.landmarks.json'), 'utf8'));
  assert.equal(b.width, 548);
  let worstPx = 0;
  a.landmarks.forEach((f: number[][], t: number) =>
    f.forEach(
      (p, k) =>
        (worstPx = Math.max(
          worstPx,
          Math.hypot(p[0] - b.landmarks[t][k][0], p[1] - b.landmarks[t][k][1]),
        )),
    ),
  );
  assert.ok(worstPx < 1, `rotated landmarks differ from upright by ${worstPx.toFixed(2)} px`);
  // the mouth-ROI videos: same pixels (mean absolute difference of the decoded ROIs)
  const grey = (f: string) =>
    execFileSync(
      'ffmpeg',
      ['-v', 'error', '-i', path.join(OUT, f), '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
      { maxBuffer: 1 << 26 },
    );
  const ru = grey('face_up.roi.mp4'),
    rr = grey('face_rot.roi.mp4');
  assert.equal(rr.length, ru.length);
  let diff = 0;
  for (let i = 0; i < ru.length; i++) diff += Math.abs(ru[i] - rr[i]);
  assert.ok(diff / ru.length < 1, `ROI mean abs difference ${(diff / ru.length).toFixed(2)}`);
  const pf = await predict(['face_up.mp4', 'face_rot.mp4'], '--face');
  assert.equal(pf.code, 0, pf.stderr);
  const [pu, pr] = json(pf).results;
  assert.equal(pr.top[0].label, pu.top[0].label);
  assert.ok(
    Math.abs(pr.top[0].probability - pu.top[0].probability) < 0.01,
    `${pr.top[0].probability} vs ${pu.top[0].probability}`,
  );
  // the plain path (whole-frame crop rule) too: a rotated real LRW clip predicts as the upright one
  const pl = await predict(['lrw_up.mp4', 'lrw_rot.mp4']);
  assert.equal(pl.code, 0, pl.stderr);
  const [lu, lr] = json(pl).results;
  assert.equal(lr.frames, 29);
  assert.deepEqual(
    lr.top.map((e: any) => e.label),
    lu.top.map((e: any) => e.label),
  );
  assert.ok(Math.abs(lr.top[0].probability - lu.top[0].probability) < 0.01);
});

test('truncated clips: predict, stream and roi answer from the frames that decode with one warning line naming decoded vs expected', async () => {
  const p = await predict(['truncated.mp4']);
  assert.equal(p.code, 0, p.stderr);
  const r = json(p).results[0];
  assert.ok(r.frames >= 1 && r.frames < 27, `frames ${r.frames}`);
  assert.match(r.warning, new RegExp(`only ${r.frames} of 29 frames decode`));
  assert.equal(warnings(p).length, 1, p.stderr);
  assert.match(
    warnings(p)[0],
    /truncated\.mp4: only \d+ of 29 frames decode \(truncated or damaged video\)/,
  );
  const s = await runEflip(['stream', 'truncated.mp4', '--checkpoint', MODEL, '--json'], {
    cwd: IN,
  });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(warnings(s).length, 1, s.stderr);
  assert.match(warnings(s)[0], /only \d+ of 29 frames decode/);
  const roi = await runEflip(
    [
      'roi',
      'face_truncated.mp4',
      '--landmarks',
      path.join(OUT, 'trunc.json'),
      '--no-cache',
      '--json',
    ],
    { cwd: IN },
  );
  assert.equal(roi.code, 0, roi.stderr);
  assert.equal(warnings(roi).length, 1, roi.stderr);
  assert.match(warnings(roi)[0], /face_truncated\.mp4: only \d+ of 10 frames decode/);
  assert.match(json(roi).warning, /of 10 frames/);
  // nothing decodable at all: refused
  assertRefused(await predict(['moov_only.mp4']), /moov_only\.mp4: .*(truncated|no frames)/, {
    label: 'moov only',
  });
});

test('eval on a raw LRW tree counts the truncated clips in one warning line and in the JSON', async () => {
  const tree = path.join(dir, 'lrw');
  for (const f of readdirSync(path.dirname(SAMPLE))) {
    // the demo model's 10 words, one real clip each
    const w = f.replace(/_\d+\.mp4$/, '');
    mkdirSync(path.join(tree, w, 'test'), { recursive: true });
    copyFileSync(path.join(path.dirname(SAMPLE), f), path.join(tree, w, 'test', f));
  }
  copyFileSync(v('truncated.mp4'), path.join(tree, 'ABUSE/test/ABUSE_00001.mp4'));
  const r = await runEflip(['eval', '--checkpoint', MODEL, '--data', tree, '--json'], {
    env: { EFLIP_CLIP_CACHE: path.join(dir, 'clip-cache') },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(warnings(r).length, 1, r.stderr);
  assert.match(warnings(r)[0], /1 clip\(s\) decoded fewer frames .*ABUSE_00001\.mp4: \d+ of 29/);
  assert.deepEqual(
    json(r).incompleteClips.map((p: string) => path.basename(p)),
    ['ABUSE_00001.mp4'],
  );
});

test('a 10-minute video: predict --face and predict refuse it from the probe in seconds (also when the mkv says it lasts 1 s)', async () => {
  for (const f of ['ten_minutes.mp4', 'lies_1s.mkv']) {
    for (const extra of [['--face'], []]) {
      const r = await predict([f], ...extra);
      assertRefused(
        r,
        new RegExp(
          `${f.replace('.', '\\.')}: the video is 600\\.0 s long, over the 60 s limit; use \`eflip stream\``,
        ),
        { maxMs: 8000, maxMiB: 700, label: `${f} ${extra}` },
      );
    }
  }
  const short = await predict(['ten_minutes.mp4'], '--max-seconds', '1');
  assertRefused(short, /over the 1 s limit/, { maxMs: 8000, label: 'max-seconds 1' });
});

test('files that are no video, 0 frames, 1×1 frames, directories, FIFOs, devices: one-line errors, fast', async () => {
  const cases: [string, RegExp][] = [
    ['notes.mp4', /notes\.mp4: not a video file/],
    ['empty.mp4', /empty\.mp4: video file is empty \(0 bytes\)/],
    ['photo.png', /photo\.png: a still image \(png\), not a video/],
    ['audio_only.mp4', /audio_only\.mp4: no video stream/],
    ['song_with_cover.mp4', /song_with_cover\.mp4: no video stream \(only cover art\)/],
    ['folder.mp4', /folder\.mp4: is a directory, not a video file/],
    ['fifo.mp4', /fifo\.mp4: not a regular file \(a device, FIFO or socket\)/],
    ['/dev/zero', /\/dev\/zero: not a regular file/],
    ['one_pixel.mkv', /one_pixel\.mkv: frames are 1×1, too small/],
    ['missing.mp4', /missing\.mp4: video file not found/],
  ];
  for (const [f, msg] of cases)
    assertRefused(await predict([f]), msg, { maxMs: 10_000, label: `predict ${f}` });
  // roi reads through the same reader (each run loads the face models first: a few of the cases)
  for (const [f, msg] of cases.filter(([f]) => /photo|fifo|one_pixel/.test(f))) {
    assertRefused(
      await runEflip(['roi', f, '--landmarks-only', '--no-cache'], { cwd: IN, timeoutMs: 30_000 }),
      msg,
      { maxMs: 15_000, label: `roi ${f}` },
    );
  }
  assertRefused(
    await runEflip(['stream', 'audio_only.mp4', '--checkpoint', MODEL], { cwd: IN }),
    /no video stream/,
    { label: 'stream audio' },
  );
});

test('8000×8000 frames are scaled down on decode (memory bounded), 10000×16 ones cut to 4:1 first (time bounded); VFR and awkward path names work', async () => {
  const big = await predict(['huge.mkv']);
  assert.equal(big.code, 0, big.stderr);
  assert.equal(json(big).results[0].frames, 2);
  assertBounded(big, { maxMs: 20_000, maxMiB: 600, label: 'predict 8000×8000' });
  const roi = await runEflip(['roi', 'huge.mkv', '--landmarks-only', '--no-cache'], { cwd: IN });
  assertRefused(roi, /huge\.mkv: no face found in any of its 2 frames/, {
    maxMs: 30_000,
    maxMiB: 900,
    label: 'roi 8000×8000',
  });
  const vfr = await predict(['vfr.mp4']);
  assert.equal(vfr.code, 0, vfr.stderr);
  const f = json(vfr).results[0].frames;
  assert.ok(f >= 27 && f <= 30, `VFR clip resampled to 25 fps: ${f} frames`);
  assert.deepEqual(warnings(vfr), []);
  const pause = await predict(['pause.mp4']);
  assert.equal(pause.code, 0, pause.stderr);
  assert.equal(json(pause).results[0].frames, 154, 'the 6.16 s of the paused clip at 25 fps');
  assert.deepEqual(warnings(pause), [], 'an intact VFR file is not reported as truncated');
  // a 10000×16 strip: its centre 64×16 (4:1 at most) is scaled, not 160000×256
  const strip = await predict(['strip.mp4']);
  assert.equal(strip.code, 0, strip.stderr);
  assert.equal(json(strip).results[0].frames, 10);
  assertBounded(strip, { maxMs: 10_000, maxMiB: 600, label: 'predict 10000×16' });
  const names = await predict(['my clip é 日本.mp4', '-dash.mp4', 'a:b.mp4', 'lrw_up.mp4']);
  assert.equal(names.code, 0, names.stderr);
  const tops = json(names).results.map((r: any) => r.top[0].label + r.top[0].probability);
  assert.deepEqual(tops, [tops[3], tops[3], tops[3], tops[3]], 'the same clip under every name');
  const dash = await runEflip(['predict', '--checkpoint', MODEL, '-dash.mp4'], { cwd: IN });
  assert.equal(dash.code, 2);
  assert.match(
    dash.stderr,
    /unknown option -dash\.mp4 \(a file named '-dash\.mp4'\? give it as \.\/-dash\.mp4 or after --\)/,
  );
  const dotted = await runEflip(['predict', '--checkpoint', MODEL, './-dash.mp4'], { cwd: IN });
  assert.equal(dotted.code, 0, dotted.stderr);
});

test('ffmpeg missing from PATH: one line saying to install ffmpeg', async () => {
  const r = await runEflip(['predict', '--checkpoint', MODEL, path.join(IN, 'lrw_up.mp4')], {
    env: { PATH: path.join(dir, 'no-bin') },
  });
  assertRefused(r, /cannot run 'ffprobe': not installed \(apt-get install ffmpeg/, {
    label: 'no ffmpeg',
  });
});

test('numeric flags are bounded with one-line usage errors', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['roi', 'x.mp4', '--out', 'o.mp4', '--size', '100000'],
      /--size must be between 8 and 1024, got 100000/,
    ],
    [['roi', 'x.mp4', '--out', 'o.mp4', '--fps', '0'], /--fps must be between 1 and 240, got 0/],
    [['roi', 'x.mp4', '--out', 'o.mp4', '--every', '1e9'], /--every must be between 1 and 1000/],
    [
      ['roi', 'x.mp4', '--out', 'o.mp4', '--jobs', '100000'],
      /--jobs is 100000: at most \d+ on this machine/,
    ],
    [['roi', 'x.mp4', '--out', 'o.mp4', '--smooth', '-3'], /--smooth must be between 1 and 101/],
    [['predict', 'x.mp4', '-c', 'm.onnx', '--top', '0'], /--top must be between 1 and 1000, got 0/],
    [
      ['predict', 'x.mp4', '-c', 'm.onnx', '--max-seconds', '1e9'],
      /--max-seconds must be between 0\.04 and 120/,
    ],
    [
      ['predict', 'x.mp4', '-c', 'm.onnx', '--batch', '99999999999999999999'],
      /--batch expects an integer/,
    ],
    [
      ['predict', 'x.mp4', '-c', 'm.onnx', '--threads', '0'],
      /--threads must be an integer >= 1, got 0/,
    ],
    [
      ['stream', 'x.mp4', '-c', 'm.onnx', '--window', '1000000'],
      /--window must be between 1 and 750/,
    ],
    [['stream', 'x.mp4', '-c', 'm.onnx', '--min-prob', '2'], /--min-prob must be between 0 and 1/],
    [
      ['eval', '--checkpoint', 'm', '--data', 'd', '--batch-size', '0'],
      /--batch-size must be between 1 and 1024/,
    ],
  ];
  for (const [args, msg] of cases) {
    const r = await runEflip(args, { cwd: OUT, timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], msg);
    assertBounded(r, { maxMs: 5000, label: args.join(' ') });
  }
});

test('no input file was changed, removed or added by any of the runs', () => {
  assertUnchanged(IN, inputs, {
    label: 'inputs',
    allowNew: (rel) => rel.endsWith('.landmarks.json'),
  }); // predict --face caches landmarks beside a video it read (docs/roi.md)
  console.log(`# worst peak RSS ${worst.peakMiB.toFixed(0)} MiB (${worst.label})`);
});
