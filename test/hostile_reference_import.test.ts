// Hostile hyper-parameters and flags for `eflip import` of reference checkpoints (issue #14):
// each bad input gets one line naming the problem and the fix, in bounded time and memory, and
// nothing is written; a hyper-parameter dict that contains itself is read in bounded time.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../src/io/safetensors.js';
import { LRW_WORDS } from '../src/model/lrw_words.js';
import { hasTorch, PYTHON, ROOT, TORCH_REF } from './model_helpers.js';
import {
  assertBounded,
  assertRefused,
  assertUnchanged,
  runEflip,
  snapshot,
  tempDir,
} from './hostile_helpers.js';

const hasOmegaconf = (): boolean => {
  try {
    execFileSync(PYTHON, ['-c', 'import omegaconf'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const skip = !hasTorch()
  ? 'python3-torch not available at /usr/bin/python3'
  : !hasOmegaconf()
    ? 'python3-omegaconf not installed'
    : false;
const dir = tempDir('eflip-hostile-refimport-');
const cases = join(dir, 'cases');
const refPy = (args: string[]) =>
  execFileSync(PYTHON, [join(TORCH_REF, 'reference_ckpt.py'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
const LIMITS = { maxMs: 30_000, maxMiB: 900 };
const words100 = LRW_WORDS.slice(0, 100);

const EDITS: [string, object, string[]][] = [
  ['words_7', { data: { words: 7 } }, ['--omegaconf']],
  ['words_text', { data: { words: 'all of them' } }, []],
  [
    'list_repeated',
    { data: { words_list: [...words100.slice(0, 99), words100[0]] } },
    ['--omegaconf'],
  ],
  ['list_short', { data: { words_list: words100.slice(0, 40) } }, []],
  ['list_control', { data: { words_list: [...words100.slice(0, 99), 'BAD\u0007'] } }, []],
  ['no_words', { model: { efficientnet_size: 'T' } }, ['--omegaconf']],
  ['cyclic', { data: { words_list: [...words100].reverse() } }, ['--cycle']],
];

before(() => {
  if (skip) return;
  const clip = join(
    ROOT,
    'assets/samples',
    readdirSync(join(ROOT, 'assets/samples'))
      .filter((f) => f.endsWith('.mp4'))
      .sort()[0],
  );
  execFileSync('mkdir', ['-p', cases]);
  refPy([
    'make',
    '--words',
    '100',
    '--clips',
    clip,
    '--out',
    join(cases, 'base.ckpt'),
    '--ema-out',
    join(dir, 'base_ema.safetensors'),
    '--seed',
    '5',
  ]);
  for (const [name, hp, flags] of EDITS)
    refPy([
      'edit',
      '--in',
      join(cases, 'base.ckpt'),
      '--out',
      join(cases, `${name}.ckpt`),
      '--hparams',
      JSON.stringify(hp),
      ...flags,
    ]);
});

const REFUSED: [string, RegExp][] = [
  [
    'words_7',
    /hyper-parameter words = 7 but the checkpoint has 100 classes; give the class names with --labels seed42\|lrw\|FILE/,
  ],
  [
    'words_text',
    /hyper-parameter words is "all of them", not a word count; give the class names with --labels/,
  ],
  [
    'list_repeated',
    /hyper-parameter words_list: label "ABOUT" appears twice; give the class names with --labels/,
  ],
  [
    'list_short',
    /hyper-parameter words_list names 40 words but the checkpoint has 100 classes; give the class names with --labels/,
  ],
  [
    'list_control',
    /hyper-parameter words_list: label 99 contains control characters; give the class names with --labels/,
  ],
  [
    'no_words',
    /the hyper-parameters name no words or words_list; give the class names with --labels/,
  ],
];

test(
  'bad hyper-parameters are refused in one line naming the problem and --labels; nothing written, input unchanged',
  { skip },
  async () => {
    const before = snapshot(cases);
    for (const [name, re] of REFUSED) {
      const out = join(dir, `${name}.safetensors`);
      const r = await runEflip(['import', join(cases, `${name}.ckpt`), '--out', out], {
        cwd: dir,
        timeoutMs: 60_000,
      });
      assertRefused(r, re, { code: 1, ...LIMITS, label: name });
      assert.equal(existsSync(out), false, `${name}: an output was written`);
    }
    assertUnchanged(cases, before);
  },
);

test(
  'a hyper-parameter dict that contains itself is read in bounded time; its words_list gives the labels',
  { skip },
  async () => {
    const out = join(dir, 'cyclic.safetensors');
    const r = await runEflip(['import', join(cases, 'cyclic.ckpt'), '--out', out], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assertBounded(r, { ...LIMITS, label: 'cyclic' });
    assert.match(r.stdout, /labels: hyper-parameters words_list \(100 words\)/);
    assert.deepEqual(
      JSON.parse(readSafetensorsHeader(out).metadata.labels),
      [...words100].reverse(),
    );
  },
);

test(
  'bad --attention, --weights, --preprocess and --config values are refused in one line; nothing written',
  { skip },
  async () => {
    const bad = join(dir, 'bad_pre.json');
    writeFileSync(bad, JSON.stringify({ crop: 'center', grey: 'opencv' }));
    const notJson = join(dir, 'not_json.json');
    writeFileSync(notJson, '{crop:');
    const nul = join(dir, 'null.json');
    writeFileSync(nul, 'null');
    const five = join(dir, 'five.json');
    writeFileSync(five, '5');
    for (const [args, re, code] of [
      [['--attention', 'batch'], /--attention must be time or self, got 'batch'/, 2],
      [['--weights', 'best'], /--weights must be ema or raw, got 'best'/, 2],
      [
        ['--preprocess', 'opencv'],
        /--preprocess must be reference, eflip or a JSON file, got 'opencv'/,
        2,
      ],
      [['--preprocess', bad], /unknown grey conversion "opencv" \(known: bt601, torchvision\)/, 1],
      [['--preprocess', notJson], /--preprocess .*not_json\.json: not JSON/, 2],
      [['--config', notJson], /--config .*not_json\.json: not JSON/, 2],
      [
        ['--config', nul],
        /--config .*null\.json: must be a JSON object of model config keys, got null/,
        2,
      ],
      [
        ['--config', five],
        /--config .*five\.json: must be a JSON object of model config keys, got 5/,
        2,
      ],
      [['--config', dir], /--config .*: not a regular file/, 2],
      [['--config', join(dir, 'missing.json')], /--config .*missing\.json: no such file/, 2],
    ] as [string[], RegExp, number][]) {
      const out = join(dir, 'flags.safetensors');
      const r = await runEflip(['import', join(cases, 'base.ckpt'), '--out', out, ...args], {
        cwd: dir,
        timeoutMs: 60_000,
      });
      assertRefused(r, re, { code, ...LIMITS, label: args.join(' ') });
      assert.equal(existsSync(out), false, `${args.join(' ')}: an output was written`);
    }
  },
);
