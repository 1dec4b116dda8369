// lipreader() (src/infer/pipeline.ts) on bad input: each mistake is a typed error with a
// one-line message naming it; nothing is read after dispose().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lipreader } from '../src/infer/pipeline.js';
import { tempDir } from './hostile_helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const MODEL = join(ROOT, 'assets/demo/model.safetensors');
const CLIP = join(ROOT, 'assets/samples/ABOUT_00001.mp4');

async function refused(f: () => Promise<unknown>, name: string, re: RegExp): Promise<void> {
  await assert.rejects(f, (e: Error) => {
    assert.equal(e.name, name, e.message);
    assert.equal(e.message.split('\n').length, 1, e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('lipreader(): bad model paths and options are refused in one line', async () => {
  const dir = tempDir('eflip-pipeline-');
  {
    await refused(
      () => lipreader(join(dir, 'missing.onnx')),
      'ModelLoadError',
      /missing\.onnx: no such model file/,
    );
    writeFileSync(join(dir, 'junk.onnx'), 'not a model');
    await refused(() => lipreader(join(dir, 'junk.onnx')), 'ModelLoadError', /junk\.onnx/);
    await refused(
      () => lipreader(MODEL, { top: 0 }),
      'InferenceInputError',
      /top must be a positive integer/,
    );
    await refused(
      () => lipreader(MODEL, { maxSeconds: -1 }),
      'InferenceInputError',
      /maxSeconds must be > 0/,
    );
  }
});

test('lipreader(): bad videos are refused in one line; a disposed reader refuses to read', async () => {
  const dir = tempDir('eflip-pipeline-');
  const r = await lipreader(MODEL, { top: 2, maxSeconds: 0.5 });
  try {
    writeFileSync(join(dir, 'text.mp4'), 'hello');
    await refused(
      () => r.read(join(dir, 'none.mp4')),
      'VideoError',
      /none\.mp4: video file not found/,
    );
    await refused(() => r.read(join(dir, 'text.mp4')), 'VideoError', /text\.mp4: not a video file/);
    await refused(
      () => r.read(CLIP),
      'VideoError',
      /ABOUT_00001\.mp4: the video is 1\.2 s long, over the 0\.5 s limit/,
    );
  } finally {
    await r.dispose();
  }
  await refused(() => r.read(CLIP), 'ReaderDisposedError', /disposed/);
  await refused(() => r.stream(CLIP), 'ReaderDisposedError', /disposed/);
  await r.dispose(); // twice is fine
});

test('lipreader(): read() equals the layers it is built on', async () => {
  const r = await lipreader(MODEL, { top: 3 });
  try {
    const { loadClip } = await import('../src/infer/frame_reader.js');
    const clip = await loadClip(CLIP, r.model.preprocessing, { channels: r.model.channels });
    const want = r.model.topK(await r.model.predictClip(clip), 3);
    const got = await r.read(CLIP);
    assert.deepEqual(
      got.top.map((e) => e.label),
      want.map((e) => e.label),
    );
    assert.ok(Math.abs(got.top[0].probability - want[0].probability) < 1e-6);
    assert.equal(got.frames, 29);
    assert.equal(got.seconds, 1.16);
    const s = await r.stream(CLIP, { window: 29 });
    assert.equal(s.frames, 29);
    assert.equal(s.timeline.length, 29);
    // the last full window is the clip: its top word is read()'s
    assert.equal(s.timeline[28].word, got.top[0].label);
    // hop 2: a window every other frame, still counting every frame; the window ending at
    // frame 28 is the same window as above
    const h = await r.stream(CLIP, { window: 29, hop: 2 });
    assert.equal(h.frames, 29);
    assert.equal(h.timeline.length, 15);
    const last = h.timeline[h.timeline.length - 1];
    assert.equal(last.frame, 28);
    assert.equal(last.word, got.top[0].label);
    assert.ok(Math.abs(last.probability - s.timeline[28].probability) < 1e-5);
    await refused(() => r.stream(CLIP, { hop: 40 }), 'InferenceInputError', /hop/);
  } finally {
    await r.dispose();
  }
});
