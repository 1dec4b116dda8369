import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { decodeVideo, probeVideo, VideoError, withToolSignal } from '../src/data/video.js';
import { readFrames } from '../src/data/video_stream.js';
import { encodeVideo } from '../src/data/video_writer.js';
import { toolPids } from './proc_helpers.js';
import { decodeVideos } from '../src/data/video_batch.js';
import { tempDir, writeTestVideo } from './data_helpers.js';

const dir = tempDir('video');
const clip = path.join(dir, 'clip.mp4');

test('encode → probe → decode round trip (colour, grey, fps resampling, maxFrames)', async () => {
  const src = await writeTestVideo(clip, { frames: 12, height: 48, width: 64, fps: 25 });
  const info = await probeVideo(clip);
  assert.deepEqual(
    [info.width, info.height, info.fps, info.frames, info.codec],
    [64, 48, 25, 12, 'h264'],
  );
  const v = await decodeVideo(clip);
  assert.deepEqual([v.frames, v.height, v.width, v.channels, v.fps], [12, 48, 64, 3, 25]);
  let err = 0;
  for (let i = 0; i < src.length; i++) err += Math.abs(src[i] - v.data[i]);
  assert.ok(err / src.length < 4, `mean abs error ${err / src.length}`);
  // frame brightness rises 6 per frame: order must survive
  const meanOf = (t: number) => {
    let s = 0;
    const n = 48 * 64 * 3;
    for (let i = 0; i < n; i++) s += v.data[t * n + i];
    return s / n;
  };
  assert.ok(meanOf(11) - meanOf(0) > 50);
  const g = await decodeVideo(clip, { gray: true });
  assert.equal(g.channels, 1);
  assert.equal(g.data.length, 12 * 48 * 64);
  const half = await decodeVideo(clip, { fps: 12.5 });
  assert.equal(half.fps, 12.5);
  assert.ok(Math.abs(half.frames - 6) <= 1, `12 frames at 25 fps → ~6 at 12.5, got ${half.frames}`);
  const first = await decodeVideo(clip, { maxFrames: 5, gray: true });
  assert.equal(first.frames, 5);
  assert.deepEqual(first.data, g.data.subarray(0, 5 * 48 * 64));
});

test('other containers and rates: webm/avi at 30 fps resample to 25', async () => {
  const { spawnSync } = await import('node:child_process');
  for (const ext of ['webm', 'avi']) {
    const f = path.join(dir, `c30.${ext}`);
    const r = spawnSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=80x60:rate=30',
      '-frames:v',
      '30',
      ...(ext === 'webm' ? ['-c:v', 'libvpx'] : ['-c:v', 'mpeg4']),
      f,
    ]);
    assert.equal(r.status, 0, String(r.stderr));
    const v = await decodeVideo(f, { fps: 25, gray: true });
    assert.equal(v.width, 80);
    assert.ok(Math.abs(v.frames - 25) <= 1, `${ext}: 1 s at 25 fps → ~25 frames, got ${v.frames}`);
  }
});

test('bad inputs give typed errors naming the file; batched decode isolates them', async () => {
  const empty = path.join(dir, 'empty.mp4');
  writeFileSync(empty, '');
  const text = path.join(dir, 'text.mp4');
  writeFileSync(text, 'this is not a video\n'.repeat(20));
  const trunc = path.join(dir, 'trunc.mp4');
  const full = readFileSync(clip);
  writeFileSync(trunc, full.subarray(0, Math.floor(full.length * 0.6)));
  const cases: [string, string][] = [
    [path.join(dir, 'nope.mp4'), 'missing'],
    [empty, 'empty'],
    [text, 'corrupt'],
  ];
  for (const [f, kind] of cases) {
    await assert.rejects(
      decodeVideo(f),
      (e: unknown) => e instanceof VideoError && e.kind === kind && e.message.includes(f),
    );
  }
  await assert.rejects(
    decodeVideo(trunc, { strict: true }),
    (e: unknown) => e instanceof VideoError && ['truncated', 'corrupt'].includes(e.kind),
  );
  const out = await decodeVideos([clip, empty, clip, text, trunc, clip], {
    gray: true,
    fps: 25,
    strict: true,
  });
  assert.deepEqual(
    out
      .map((o) => (o instanceof VideoError ? o.kind : o.frames))
      .map((k) => (k === 'truncated' ? 'corrupt' : k)),
    [12, 'empty', 12, 'corrupt', 'corrupt', 12],
  );
  const good = await decodeVideos([clip, clip, clip], { gray: true });
  for (const g of good) assert.ok(!(g instanceof VideoError) && g.frames === 12);
});

test('PGM/PPM parser: frames split across chunks at every byte land whole; bad or cut streams are refused', async () => {
  const { PnmParser, PnmStreamError, parsePnmStream } = await import('../src/data/video_pnm.js');
  const frame = (w: number, h: number, c: 1 | 3, seed: number) => {
    const head = Buffer.from(`P${c === 3 ? 6 : 5}\n${w} ${h}\n255\n`, 'latin1');
    const px = Buffer.alloc(w * h * c);
    for (let i = 0; i < px.length; i++) px[i] = (i * 31 + seed) & 255;
    return { bytes: Buffer.concat([head, px]), px };
  };
  const a = frame(5, 3, 3, 1),
    b = frame(5, 3, 3, 7);
  const stream = Buffer.concat([a.bytes, b.bytes]);
  for (const size of [1, 2, 7, 16, 45, stream.length]) {
    const p = new PnmParser();
    const got = [];
    for (let i = 0; i < stream.length; i += size) got.push(...p.push(stream.subarray(i, i + size)));
    assert.equal(got.length, 2, `chunk size ${size}`);
    assert.deepEqual([got[0].width, got[0].height, got[0].channels], [5, 3, 3]);
    assert.deepEqual(Buffer.from(got[0].data), a.px);
    assert.deepEqual(Buffer.from(got[1].data), b.px);
    assert.equal(p.pending, 0);
    assert.equal(p.bytes, stream.length);
  }
  const whole = parsePnmStream(stream)!;
  assert.equal(whole.frames, 2);
  assert.deepEqual(Buffer.from(whole.data.subarray(15 * 3)), b.px);
  // a frame cut short, a size change, garbage: no frames made up
  assert.equal(parsePnmStream(stream.subarray(0, stream.length - 1)), null);
  assert.equal(parsePnmStream(Buffer.concat([a.bytes, frame(4, 3, 3, 0).bytes])), null);
  assert.equal(parsePnmStream(Buffer.alloc(100, 0x41)), null);
  assert.throws(() => new PnmParser().push(Buffer.from('P6\n99999 99999\n255\n')), PnmStreamError);
});

test('readFrames: ffmpeg starts beside ffprobe; a clip read late loses no frame; a refused file or one needing other arguments leaves no stray decoder', async () => {
  // 6 tiny frames: ffmpeg is done long before frames() reads them
  const tiny = path.join(dir, 'tiny.mp4');
  await writeTestVideo(tiny, { frames: 6, height: 24, width: 32 });
  const r = await readFrames(tiny);
  await new Promise((res) => setTimeout(res, 400));
  let n = 0;
  for await (const f of r.frames()) n += f.width === 32 && f.height === 24 ? 1 : 0;
  assert.equal(n, 6);
  // the probe refuses a still image: the decoder started beside it is gone when readFrames fails
  await assert.rejects(
    readFrames(new URL('../../test/fixtures/roi/messi5.jpg', import.meta.url).pathname),
    (e: unknown) => e instanceof VideoError && e.kind === 'no-video',
  );
  assert.deepEqual(toolPids(), []);
  // frames wider than MAX_FRAME_SIDE need the size cap: the guessed decoder is replaced
  const wide = path.join(dir, 'wide.mp4');
  await writeTestVideo(wide, { frames: 2, height: 16, width: 2000 });
  const w = await readFrames(wide, { gray: true });
  assert.equal(toolPids().length, 0, 'the guessed decoder was stopped');
  const sizes = [];
  for await (const f of w.frames()) sizes.push(`${f.width}x${f.height}`);
  assert.deepEqual(sizes, ['1920x16', '1920x16']);
});

test("withToolSignal: an abort kills the reader's ffmpeg at once and the reader fails as cancelled", async () => {
  const long = path.join(dir, 'long.mp4');
  await writeTestVideo(long, { frames: 250, height: 240, width: 320 });
  const cancelled = (e: unknown) => e instanceof VideoError && e.kind === 'cancelled';
  // mid-stream: abort after the first frame; the frame reader stops with 'cancelled'
  const ac = new AbortController();
  let seen = 0;
  await assert.rejects(
    withToolSignal(ac.signal, async () => {
      const r = await readFrames(long);
      for await (const f of r.frames()) {
        void f;
        if (++seen === 1) ac.abort();
      }
    }),
    cancelled,
  );
  assert.ok(seen < 250, `stopped after ${seen} frames`);
  assert.deepEqual(toolPids(), [], 'no ffmpeg left running');
  // already aborted: the probe (ffprobe) and the whole-clip decoder never get going
  const t0 = performance.now();
  await assert.rejects(
    withToolSignal(AbortSignal.abort(), () => decodeVideo(long)),
    cancelled,
  );
  assert.ok(performance.now() - t0 < 2000);
  // outside a signal's scope the same reads work
  assert.equal((await decodeVideo(long)).frames, 250);
});

test("the mp4 writer: temps of killed writers beside the output go, a live writer's stay; a cancelled encode leaves nothing", async () => {
  const out = path.join(dir, 'writer');
  mkdirSync(out, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(path.join(out, `.roi.mp4.tmp-${dead}-kx1`), 'half a video (kill -9)');
  writeFileSync(path.join(out, `.other.mp4.tmp-${process.pid}-kx2`), 'being written');
  const o = { frames: 4, height: 32, width: 32, channels: 3 as const, fps: 25 };
  const data = new Uint8Array(4 * 32 * 32 * 3).fill(90);
  await encodeVideo(path.join(out, 'roi.mp4'), data, o);
  assert.deepEqual(readdirSync(out).sort(), [`.other.mp4.tmp-${process.pid}-kx2`, 'roi.mp4']);
  await assert.rejects(
    withToolSignal(AbortSignal.abort(), () => encodeVideo(path.join(out, 'b.mp4'), data, o)),
    (e: unknown) => e instanceof VideoError && e.kind === 'cancelled',
  );
  assert.ok(!existsSync(path.join(out, 'b.mp4')));
  assert.equal(readdirSync(out).filter((n) => n.startsWith('.b.mp4')).length, 0, 'no temp left');
});
