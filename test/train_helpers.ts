// Shared fixtures of the training tests: a tiny real synth corpus (mp4 + txt through ffmpeg)
// and a tiny config, so trainer tests run in seconds.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// decoded-clip cache of the training tests: a fresh temp dir, never the user's ~/.cache
process.env.EFLIP_CLIP_CACHE ??= mkdtempSync(join(tmpdir(), 'eflip-clip-cache-'));

export const bin = new URL('../../bin/eflip.js', import.meta.url).pathname;
export const configs = new URL('../../configs/', import.meta.url).pathname;

let corpus: string | null = null;
/** 2 words × (train 4, val 2, test 2) synthetic clips, made once per test process. */
export function tinyCorpus(): string {
  if (corpus && existsSync(corpus)) return corpus;
  const dir = mkdtempSync(join(tmpdir(), 'eflip-train-corpus-'));
  execFileSync(
    process.execPath,
    [
      bin,
      'synth',
      '--out',
      dir,
      '--words',
      '2',
      '--train',
      '4',
      '--val',
      '2',
      '--test',
      '2',
      '--seed',
      '3',
      '--jobs',
      '1',
      '--quiet',
    ],
    { stdio: 'pipe' },
  );
  corpus = dir;
  return dir;
}

/** Overrides turning configs/synth.yaml into a seconds-long run (float32 on every machine:
 *  train.precision=auto would be bf16 on a CPU with native bfloat16, and the tests compare
 *  runs to each other and to fixed tolerances; a later train.precision=... overrides it). */
export function tinyOverrides(root: string, runDir: string): string[] {
  return [
    'train.precision=fp32',
    `data.root=${root}`,
    'data.words=null',
    'data.size=24',
    'data.frames=8',
    'data.workers=1',
    `run_dir=${runDir}`,
    'train.batch_size=2',
    'train.epochs=3',
    'train.threads=1',
    'train.log_every=1',
    'model.feature_dim=32',
    'model.tcn_channels=32',
    'model.transformer_heads=2',
    'model.transformer_ffn=32',
    'train.test_at_end=false',
    'early_stopping.enabled=false',
  ];
}

export function eflip(args: string[], opts: { timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
  });
}
