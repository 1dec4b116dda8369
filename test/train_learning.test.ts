// The learning check (issue 6 "Show"): configs/synth.yaml on 10 synthetic words with held-out
// test speakers reaches ≥ 90 % test top-1, and the same run with shuffled training labels stays
// near chance (≤ 20 %). Minutes of CPU, so it runs only with EFLIP_LEARNING_CHECK=1:
//   EFLIP_LEARNING_CHECK=1 node --test dist/test/train_learning.test.js
// (EFLIP_SYNTH_ROOT=DIR reuses a corpus made with
//   eflip synth --out DIR --words 10 --train 80 --val 10 --test 10 --seed 1 --train-speakers 48)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, configs, eflip } from './train_helpers.js';
import { execFileSync } from 'node:child_process';

const enabled = process.env.EFLIP_LEARNING_CHECK === '1';

test(
  'learning check: ≥ 90 % test top-1 on held-out speakers, shuffled labels ≤ 20 %',
  { skip: !enabled && 'set EFLIP_LEARNING_CHECK=1 (minutes of CPU)', timeout: 3_600_000 },
  () => {
    const tmp = mkdtempSync(join(tmpdir(), 'eflip-learning-'));
    const root = process.env.EFLIP_SYNTH_ROOT ?? join(tmp, 'synth10');
    if (!existsSync(join(root, 'synth.json'))) {
      execFileSync(
        process.execPath,
        [
          bin,
          'synth',
          '--out',
          root,
          '--words',
          '10',
          '--train',
          '80',
          '--val',
          '10',
          '--test',
          '10',
          '--seed',
          '1',
          '--train-speakers',
          '48',
          '--quiet',
        ],
        { stdio: 'inherit' },
      );
    }
    const run = (name: string, extra: string[]) => {
      const t0 = Date.now();
      const r = eflip(
        [
          'train',
          '--config',
          join(configs, 'synth.yaml'),
          `data.root=${root}`,
          `run_dir=${join(tmp, name)}`,
          '--json',
          ...extra,
        ],
        { timeout: 3_000_000 },
      );
      assert.equal(r.status, 0, r.stderr + r.stdout.slice(-3000));
      const j = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{') + 1));
      return {
        top1: j.test.top1 as number,
        seconds: (Date.now() - t0) / 1000,
        runDir: j.runDir as string,
      };
    };
    const real = run('real', []);
    const shuffled = run('shuffled', ['data.shuffle_train_labels=7']);
    writeFileSync(join(tmp, 'learning_check.json'), JSON.stringify({ real, shuffled }, null, 2));
    console.log(
      `learning check: real labels test top-1 ${(100 * real.top1).toFixed(1)} % (${real.seconds.toFixed(0)} s), shuffled ${(100 * shuffled.top1).toFixed(1)} % (${shuffled.seconds.toFixed(0)} s)`,
    );
    assert.ok(real.top1 >= 0.9, `test top-1 ${real.top1}`);
    assert.ok(shuffled.top1 <= 0.2, `shuffled-label test top-1 ${shuffled.top1}`);
  },
);
