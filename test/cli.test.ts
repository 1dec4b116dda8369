import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { COMMANDS } from '../src/cli/commands.js';

const bin = new URL('../../bin/eflip.js', import.meta.url).pathname;

test('eflip --help lists every command', () => {
  const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  for (const c of COMMANDS) assert.match(out, new RegExp(`\\b${c.name}\\b`));
});

test('every command answers --help with a usage line', () => {
  for (const c of COMMANDS) {
    const r = spawnSync(process.execPath, [bin, c.name, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${c.name} --help exited ${r.status}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: eflip ${c.name}`));
  }
});

test('unknown command exits 2 with a message', () => {
  const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('README CLI and config references match --help and the config schema', async () => {
  const { readFileSync } = await import('node:fs');
  const { BLOCKS, renderBlock } = await import('../src/cli/reference.js');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const b of BLOCKS) {
    const a = readme.indexOf(b.begin);
    const e = readme.indexOf(b.end);
    assert.ok(a >= 0 && e > a, `README.md has the generated block ${b.begin}`);
    assert.equal(
      readme.slice(a, e + b.end.length),
      await renderBlock(b),
      'README reference is stale: run `npm run docs`',
    );
  }
});
