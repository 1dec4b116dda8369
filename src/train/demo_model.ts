// The bundled demo model: a small custom variant trained by `eflip train` (configs/synth.yaml)
// on a synthetic corpus, shipped as assets/demo/model.safetensors (EMA weights under plain
// parameter names + metadata: config, labels, preprocessing, metrics, train_config) with a few
// sample clips in assets/samples/. `retrainDemo()` reproduces it (`eflip demo --retrain`).
// The ROI demo model (assets/demo-roi, configs/synth_roi.yaml) is the same network trained on the
// landmark mouth ROI (`prepare --crop landmarks` on the corpus's ground-truth landmarks), for
// arbitrary footage (`eflip predict --face`, the web app's webcam); `retrainDemo({ roi: true })`
// reproduces it (`eflip demo --retrain --roi`).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readModelFile } from '../model/model_file.js';
import { prepare } from '../data/prepare.js';
import { DEMO_DIR, DEMO_MODEL, ROI_DEMO_DIR, SAMPLES_DIR } from '../demo_assets.js';
import { readCheckpoint } from './checkpoint.js';
import { configToYaml } from './config.js';
import { metricsJson, metricsMarkdown, type EvalMetrics } from './metrics.js';
import { runTraining } from './run.js';
import { weightsOf } from './model_io.js';
import { makeDirs } from '../io/make_dirs.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The corpus the demo model is trained on (`eflip synth` arguments). */
export const DEMO_CORPUS = { words: 10, train: 80, val: 10, test: 10, seed: 1, trainSpeakers: 48 };

/** The ROI demo model's crops (`eflip prepare --crop landmarks --size 80`): the centre 80×80 of the
 *  96×96 landmark ROI, so training's random 64×64 crops move ±8 px (configs/synth_roi.yaml). */
export const ROI_PREPARE = { crop: 'landmarks', size: 80 } as const;

/** The heading of assets/demo-roi/metrics.md. */
export const ROI_DEMO_TITLE =
  'ROI demo model (landmark mouth ROI) on the synthetic test split (held-out speakers)';

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
  /** the ROI demo model: corpus with landmarks → `prepare --crop landmarks` → configs/synth_roi.yaml → assets/demo-roi */
  roi?: boolean;
  /** existing synth corpus (made with DEMO_CORPUS when absent; with landmarks for `roi`) */
  corpus?: string;
  /** where model.safetensors and its companions go (default assets/demo, assets/demo-roi for `roi`) */
  outDir?: string;
  /** where sample clips go (default assets/samples; the ROI model writes none) */
  samplesDir?: string;
  runDir?: string;
  overrides?: string[];
  log?: (m: string) => void;
}

/** Write assets/demo (model file, config.yaml, labels.txt, metrics) and assets/samples (when
 *  `samplesDir` is given) from a finished run's checkpoint. */
export function publishDemo(o: {
  checkpoint: string;
  corpus: string;
  outDir: string;
  samplesDir?: string;
  test?: EvalMetrics;
  /** the metrics heading (default: the fixed-window demo model's) */
  title?: string;
}): { model: string; bytes: number } {
  const ck = readCheckpoint(o.checkpoint);
  makeDirs(o.outDir);
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
      metricsMarkdown(
        o.test,
        o.title ?? 'Demo model on the synthetic test split (held-out speakers)',
      ),
    );
  }
  if (!o.samplesDir) return { model, bytes };
  // sample clips: the first test clip of each word (held-out speakers)
  makeDirs(o.samplesDir);
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

/** Reproduce a demo model: synth corpus → eflip train configs/synth.yaml → assets/demo, or with
 *  `roi`: synth corpus with landmarks → eflip prepare --crop landmarks → eflip train
 *  configs/synth_roi.yaml → assets/demo-roi. */
export async function retrainDemo(
  o: RetrainOptions = {},
): Promise<{ model: string; test?: EvalMetrics; seconds: number }> {
  const t0 = Date.now();
  const log = o.log ?? ((m: string) => console.log(m));
  const roi = !!o.roi;
  const corpus = resolve(o.corpus ?? join(ROOT, 'runs', roi ? 'demo-roi-corpus' : 'demo-corpus'));
  const outDir = resolve(o.outDir ?? (roi ? ROI_DEMO_DIR : DEMO_DIR));
  const samplesDir = roi ? undefined : resolve(o.samplesDir ?? SAMPLES_DIR);
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
        ...(roi ? ['--landmarks'] : []),
      ],
      { stdio: 'inherit' },
    );
  }
  let data = `data.root=${corpus}`;
  const extra: string[] = [];
  if (roi) {
    // the landmark ROI of every clip, from the synthesiser's ground-truth CLIP.landmarks.json
    const shards = `${corpus}-shards`;
    log(`cutting landmark mouth ROIs into ${shards} ...`);
    const p = await prepare({
      lrw: corpus,
      out: shards,
      crop: ROI_PREPARE.crop,
      size: ROI_PREPARE.size,
    });
    if (p.skipped.length)
      throw new Error(
        `${p.skipped.length} clip(s) of ${corpus} have no usable landmarks (first: ${p.skipped[0].path}: ${p.skipped[0].reason}); make the corpus with \`eflip synth --landmarks\``,
      );
    // configs/synth_roi.yaml fine-tunes the fixed-window demo model (its path, wherever this runs from)
    data = `data.shards=${shards}`;
    extra.push(`pretrained_model_path=${DEMO_MODEL}`);
  }
  const r = await runTraining({
    configFile: join(ROOT, 'configs', roi ? 'synth_roi.yaml' : 'synth.yaml'),
    overrides: [
      data,
      ...extra,
      `run_dir=${o.runDir ?? join(ROOT, 'runs', `demo${roi ? '-roi' : ''}-${Date.now().toString(36)}`)}`,
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
    title: roi ? ROI_DEMO_TITLE : undefined,
  });
  log(
    `${roi ? 'ROI ' : ''}demo model: ${model} (${(bytes / 1e6).toFixed(2)} MB)${r.test ? `, test top-1 ${(100 * r.test.top1).toFixed(1)} %` : ''}`,
  );
  return { model, test: r.test, seconds: (Date.now() - t0) / 1000 };
}
