// `eflip predict VIDEO --annotate OUT.mp4` on real pixels: a photograph turned into a clip, the
// face found, the word predicted by the bundled demo model and drawn onto an annotated mp4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { photoVideo } from './data_helpers.js';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/eflip.js');

/** First frame's top-left corner as grey bytes. */
function corner(file: string): Buffer {
  return execFileSync('ffmpeg', [
    '-v',
    'error',
    '-i',
    file,
    '-vframes',
    '1',
    '-vf',
    'crop=160:40:0:0,format=gray',
    '-f',
    'rawvideo',
    '-',
  ]);
}

test('predict --annotate finds the face, predicts and writes the word onto the video', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-annot-'));
  try {
    const clip = join(dir, 'face.mp4');
    photoVideo(clip, 1);
    const out = join(dir, 'annotated.mp4');
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'predict',
        clip,
        '--checkpoint',
        join(root, 'assets/demo/model.safetensors'),
        '--annotate',
        out,
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout).results[0];
    assert.equal(res.annotated, out);
    assert.equal(res.top.length, 5);
    const frames = execFileSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-count_frames',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=nb_read_frames',
        '-of',
        'csv=p=0',
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(Number(frames.trim()), 25);
    // the label box (white text on a dark box) changes the top-left corner of the frame
    const a = corner(clip);
    const b = corner(out);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i] - b[i]);
    assert.ok(
      diff / a.length > 20,
      `label drawn (mean abs difference ${(diff / a.length).toFixed(1)})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
