// The bundled demo model: a small custom variant trained by `eflip train` (configs/synth.yaml)
// on a synthetic corpus, shipped as assets/demo/model.safetensors (EMA weights under plain
// parameter names + metadata: config, labels, preprocessing, metrics, train_config) with a few
// sample clips in assets/samples/. `retrainDemo()` reproduces it (`eflip demo --retrain`).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readModelFile } from '../model/model_file.js';
import { readCheckpoint } from './checkpoint.js';
import { configToYaml } from './config.js';
import { metricsJson, metricsMarkdown, type EvalMetrics } from './metrics.js';
import { runTraining } from './run.js';
import { weightsOf } from './model_io.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The corpus the demo model is trained on (`eflip synth` arguments). */
export const DEMO_CORPUS = { words: 10, train: 80, val: 10, test: 10, seed: 1, trainSpeakers: 48 };

/** A training checkpoint → a compact model file (EMA weights, plain names) with metrics in its metadata. */
export function exportModelFile(
  checkpoint: string,
  out: string,
  metrics?: EvalMetrics,
): { bytes: number; weights: string } {
  const opened = readModelFile(checkpoint); // validated: config, labels, pre-processing vs tensors
  const f = opened.file;
  const { weights, source } = weightsOf(f, true);
  const entries: [string, RawTensor][] = [...weights];
  const meta: Record<string, string> = { format: 'eflip-model', weights: source };
  for (const k of ['config', 'labels', 'preprocessing', 'train_config'])
    if (f.metadata[k] !== undefined) meta[k] = f.metadata[k];
  if (metrics) meta.metrics = JSON.stringify(metricsJson(metrics, false));
  const bytes = serializeSafetensors(entries, meta);
  writeFileAtomic(out, bytes);
  return { bytes: bytes.length, weights: source };
}

export interface RetrainOptions {
  /** existing synth corpus (made with DEMO_CORPUS when absent) */
  corpus?: string;
  /** where model.safetensors and its companions go (default assets/demo) */
  outDir?: string;
  /** where sample clips go (default assets/samples) */
  samplesDir?: string;
  runDir?: string;
  overrides?: string[];
  log?: (m: string) => void;
}

/** Write assets/demo (model file, config.yaml, labels.txt, metrics) and assets/samples from a finished run's checkpoint. */
export function publishDemo(o: {
  checkpoint: string;
  corpus: string;
  outDir: string;
  samplesDir: string;
  test?: EvalMetrics;
}): { model: string; bytes: number } {
  const ck = readCheckpoint(o.checkpoint);
  mkdirSync(o.outDir, { recursive: true });
  const model = join(o.outDir, 'model.safetensors');
  const { bytes } = exportModelFile(o.checkpoint, model, o.test);
  writeFileAtomic(join(o.outDir, 'config.yaml'), configToYaml(ck.trainConfig));
  writeFileAtomic(join(o.outDir, 'labels.txt'), ck.labels.join('\n') + '\n');
  if (o.test) {
    writeFileAtomic(
      join(o.outDir, 'metrics.json'),
      JSON.stringify(metricsJson(o.test, true), null, 2) + '\n',
    );
    writeFileAtomic(
      join(o.outDir, 'metrics.md'),
      metricsMarkdown(o.test, 'Demo model on the synthetic test split (held-out speakers)'),
    );
  }
  // sample clips: the first test clip of each word (held-out speakers)
  mkdirSync(o.samplesDir, { recursive: true });
  for (const w of ck.labels) {
    const dir = join(o.corpus, w, 'test');
    const first = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.mp4'))
          .sort()[0]
      : undefined;
    if (first) copyFileSync(join(dir, first), join(o.samplesDir, first));
  }
  return { model, bytes };
}

/** Reproduce the demo model: synth corpus → eflip train configs/synth.yaml → assets/demo. */
export async function retrainDemo(
  o: RetrainOptions = {},
): Promise<{ model: string; test?: EvalMetrics; seconds: number }> {
  const t0 = Date.now();
  const log = o.log ?? ((m: string) => console.log(m));
  const corpus = resolve(o.corpus ?? join(ROOT, 'runs', 'demo-corpus'));
  const outDir = resolve(o.outDir ?? join(ROOT, 'assets', 'demo'));
  const samplesDir = resolve(o.samplesDir ?? join(ROOT, 'assets', 'samples'));
  if (!existsSync(join(corpus, 'synth.json'))) {
    log(`writing the synthetic corpus to ${corpus} ...`);
    const c = DEMO_CORPUS;
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'bin', 'eflip.js'),
        'synth',
        '--out',
        corpus,
        '--words',
        String(c.words),
        '--train',
        String(c.train),
        '--val',
        String(c.val),
        '--test',
        String(c.test),
        '--seed',
        String(c.seed),
        '--train-speakers',
        String(c.trainSpeakers),
      ],
      { stdio: 'inherit' },
    );
  }
  const r = await runTraining({
    configFile: join(ROOT, 'configs', 'synth.yaml'),
    overrides: [
      `data.root=${corpus}`,
      `run_dir=${o.runDir ?? join(ROOT, 'runs', `demo-${Date.now().toString(36)}`)}`,
      ...(o.overrides ?? []),
    ],
    log,
  });
  if (!r.bestCheckpoint) throw new Error('training produced no checkpoint');
  const { model, bytes } = publishDemo({
    checkpoint: r.bestCheckpoint,
    corpus,
    outDir,
    samplesDir,
    test: r.test,
  });
  log(
    `demo model: ${model} (${(bytes / 1e6).toFixed(2)} MB)${r.test ? `, test top-1 ${(100 * r.test.top1).toFixed(1)} %` : ''}`,
  );
  return { model, test: r.test, seconds: (Date.now() - t0) / 1000 };
}
