// The README's first command: `eflip demo` lipreads the bundled sample clips with the bundled
// demo model, and `eflip demo --roi` reads them through the face pipeline with the ROI demo
// model. Real CLI, real mp4 files, real face models; a clip whose face the detector misses is
// listed as not read, not fatal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { readdirSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).pathname;
const samples = readdirSync(path.join(ROOT, 'assets/samples')).filter((f) => f.endsWith('.mp4'));

function demo(args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/eflip.js'), 'demo', ...args], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    correct: number;
    clips: number;
    results: { file: string; truth: string; top: { label: string }[]; noFace?: string }[];
  };
}

test('eflip demo: every sample clip is read, nearly all correctly', () => {
  const j = demo(['--json']);
  assert.equal(j.clips, samples.length);
  assert.deepEqual(j.results.map((r) => r.file).sort(), [...samples].sort());
  assert.ok(j.correct >= samples.length - 2, `${j.correct}/${j.clips} correct`);
});

test('eflip demo --roi: the face pipeline reads the clips whose face it finds; a missed face is listed, not fatal', () => {
  const j = demo(['--roi', '--json']);
  assert.equal(j.clips, samples.length, 'one result per sample, read or not');
  const missed = j.results.filter((r) => r.noFace);
  for (const r of missed) {
    assert.deepEqual(r.top, []);
    assert.match(r.noFace!, /no face found/);
  }
  assert.ok(missed.length <= 2, `faces missed in ${missed.map((r) => r.file)}`);
  const read = j.results.filter((r) => !r.noFace);
  assert.ok(j.correct >= read.length - 1, `${j.correct} of the ${read.length} read clips correct`);
});
