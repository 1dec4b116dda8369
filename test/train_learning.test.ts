// The learning check (issue 6 "Show"): configs/synth.yaml on 10 synthetic words with held-out
// test speakers reaches ≥ 90 % test top-1, and the same run with shuffled training labels stays
// near chance (≤ 20 %). Minutes of CPU, so it runs only with EFLIP_LEARNING_CHECK=1:
//   EFLIP_LEARNING_CHECK=1 node --test dist/test/train_learning.test.js
// (EFLIP_SYNTH_ROOT=DIR reuses a corpus made with
//   eflip synth --out DIR --words 10 --train 80 --val 10 --test 10 --seed 1 --train-speakers 48)
// EFLIP_LEARNING_PRECISION=fp32,bf16 runs the real-label check once per train.precision (default:
// auto, the default recipe) and reports each one's held-out top-1; the shuffled-label run uses
// the first. With two or more, each must also learn as well as the first: held-out top-1 at most
// SAME_ACCURACY below it. The test split is 100 clips (10 per word), so 1 clip is 1 point, and
// two equally good recipes differ by chance by about 2-3 clips (binomial SE at 95 % top-1 is 2.2
// points per run): 3 points is "the same held-out accuracy" at this split's resolution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, configs, eflip } from './train_helpers.js';
import { execFileSync } from 'node:child_process';

const enabled = process.env.EFLIP_LEARNING_CHECK === '1';
const precisions = (process.env.EFLIP_LEARNING_PRECISION ?? 'auto').split(',').map((p) => p.trim());
/** the largest held-out top-1 shortfall against the first precision that still counts as the same */
const SAME_ACCURACY = 0.03;

test(
  'learning check: ≥ 90 % test top-1 on held-out speakers for each EFLIP_LEARNING_PRECISION (and within 3 points of the first), shuffled labels ≤ 20 %',
  {
    skip: !enabled && 'set EFLIP_LEARNING_CHECK=1 (minutes of CPU)',
    timeout: 3_600_000 * (precisions.length + 1),
  },
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
      const runDir = j.runDir as string;
      // the precision the run trained in (train.precision=auto is saved resolved)
      const yaml = readFileSync(join(runDir, 'config.yaml'), 'utf8');
      return {
        precision: /\n {2}precision: (\w+)\n/.exec(yaml)?.[1] ?? 'unknown',
        top1: j.test.top1 as number,
        seconds: (Date.now() - t0) / 1000,
        runDir,
      };
    };
    const real = precisions.map((p) => ({
      asked: p,
      ...run(`real-${p}`, [`train.precision=${p}`]),
    }));
    const shuffled = run('shuffled', [
      `train.precision=${precisions[0]}`,
      'data.shuffle_train_labels=7',
    ]);
    writeFileSync(join(tmp, 'learning_check.json'), JSON.stringify({ real, shuffled }, null, 2));
    for (const r of real)
      console.log(
        `learning check: train.precision=${r.asked} (${r.precision}): real labels test top-1 ${(100 * r.top1).toFixed(1)} % (${r.seconds.toFixed(0)} s)`,
      );
    console.log(
      `learning check: shuffled labels (${shuffled.precision}) test top-1 ${(100 * shuffled.top1).toFixed(1)} % (${shuffled.seconds.toFixed(0)} s)`,
    );
    for (const r of real) {
      assert.ok(r.top1 >= 0.9, `train.precision=${r.asked}: test top-1 ${r.top1}`);
      assert.ok(
        r.top1 >= real[0].top1 - SAME_ACCURACY,
        `train.precision=${r.asked}: test top-1 ${r.top1} is more than ${SAME_ACCURACY} below ${real[0].asked}'s ${real[0].top1}`,
      );
    }
    assert.ok(shuffled.top1 <= 0.2, `shuffled-label test top-1 ${shuffled.top1}`);
  },
);
