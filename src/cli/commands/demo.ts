// `eflip demo` — lipread the bundled sample clips (assets/samples) with the bundled demo model
// (assets/demo/model.safetensors: a small variant trained by `eflip train configs/synth.yaml`
// on a synthetic LRW-format corpus; held-out speakers). `--retrain` reproduces the model.
// `--roi`: the ROI demo model (assets/demo-roi, configs/synth_roi.yaml) reads the same clips
// through the face pipeline, as `eflip predict --face` reads arbitrary footage.
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseOrHelp, UsageError, defineCommand, INFERENCE_OPTIONS } from '../args.js';
import { DEMO_MODEL, ROI_DEMO_MODEL, SAMPLES_DIR as SAMPLES } from '../../demo_assets.js';
import { RoiError } from '../../roi/errors.js';

export const def = defineCommand({
  name: 'demo',
  usage: 'demo [--runtime onnx|torch] [--top 3] [--json] [--retrain] [--roi]',
  description: [
    'Lipread the bundled sample clips (assets/samples: synthetic talking faces of held-out speakers)',
    'with the bundled demo model (assets/demo) and print the top words with probabilities.',
    'With --retrain, first reproduce the demo model: synth corpus → `eflip train configs/synth.yaml`.',
    'With --roi, the ROI demo model (assets/demo-roi, trained on landmark mouth ROIs by configs/synth_roi.yaml)',
    'reads the clips through the face pipeline, like `eflip predict --face` (slower: face tracking).',
  ].join('\n'),
  options: {
    runtime: INFERENCE_OPTIONS.runtime,
    top: { type: 'int', alias: 'k', default: 3, help: 'words shown per clip' },
    json: { type: 'boolean', help: 'print JSON' },
    retrain: {
      type: 'boolean',
      help: 'reproduce assets/demo and assets/samples with `eflip train` (minutes of CPU)',
    },
    roi: {
      type: 'boolean',
      help: 'the ROI demo model on face-tracked mouth ROIs (with --retrain: reproduce assets/demo-roi)',
    },
  },
  examples: [
    'eflip demo',
    'eflip demo --runtime torch --top 5',
    'eflip demo --retrain',
    'eflip demo --roi',
  ],
});

/** The word a sample clip says, from its LRW-style name (WORD_00001.mp4). */
const truthOf = (file: string) => basename(file).replace(/_\d+\.mp4$/, '');

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  if (o.retrain) {
    const { retrainDemo } = await import('../../train/demo_model.js');
    const r = await retrainDemo({ roi: o.roi, log: (m) => console.error(m) });
    console.error(`retrained in ${r.seconds.toFixed(0)} s`);
  }
  const MODEL = o.roi ? ROI_DEMO_MODEL : DEMO_MODEL;
  if (!existsSync(MODEL))
    throw new Error(
      `${MODEL} is missing; run \`eflip demo --retrain${o.roi ? ' --roi' : ''}\` to make it`,
    );
  const files = existsSync(SAMPLES)
    ? readdirSync(SAMPLES)
        .filter((f) => f.endsWith('.mp4'))
        .sort()
        .map((f) => join(SAMPLES, f))
    : [];
  if (!files.length) throw new Error(`no sample clips in ${SAMPLES}; run \`eflip demo --retrain\``);

  const { loadLipReader, loadClip } = await import('../../infer/index.js');
  const face = o.roi ? await (await import('../../infer/face_clips.js')).faceClipReader() : null;
  const reader = await loadLipReader(MODEL, { runtime: o.runtime });
  const results: {
    file: string;
    truth: string;
    top: { label: string; probability: number }[];
    /** the face pipeline found no face in the clip (--roi): nothing to read */
    noFace?: string;
  }[] = [];
  const t0 = performance.now();
  try {
    const clips = [];
    const read: string[] = [];
    for (const f of files) {
      try {
        clips.push(
          face
            ? await face.load(f, reader.preprocessing, reader.channels, 60, () => {})
            : await loadClip(f, reader.preprocessing, { channels: reader.channels }),
        );
        read.push(f);
      } catch (e) {
        // a synthetic face the detector misses is a result of the face pipeline, not a failure
        // of the demo: the clip is listed as not read, the others are read
        if (!(e instanceof RoiError && e.kind === 'no-face')) throw e;
        results.push({ file: basename(f), truth: truthOf(f), top: [], noFace: e.message });
      }
    }
    const lps = await reader.predictBatch(clips);
    lps.forEach((lp, i) => {
      results.push({
        file: basename(read[i]),
        truth: truthOf(read[i]),
        top: reader
          .topK(lp, o.top)
          .map((e) => ({ label: e.label, probability: +e.probability.toFixed(4) })),
      });
    });
    results.sort((a, b) => (a.file < b.file ? -1 : 1));
  } finally {
    await reader.dispose();
  }
  const ms = performance.now() - t0;
  const correct = results.filter((r) => r.top[0]?.label === r.truth).length;
  const noFace = results.filter((r) => r.noFace).length;
  if (o.json) {
    console.log(
      JSON.stringify(
        {
          model: MODEL,
          runtime: reader.runtime,
          correct,
          clips: results.length,
          ms: Math.round(ms),
          results,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(
    `eflip demo: ${results.length} sample clips, ${o.roi ? 'ROI demo model assets/demo-roi (face pipeline)' : `demo model ${basename(MODEL)}`} (${reader.labels.length} words), runtime ${reader.runtime}/${reader.device}\n`,
  );
  for (const r of results) {
    const mark = r.top[0]?.label === r.truth ? '✓' : '✗';
    const words = r.noFace
      ? 'no face found by the face detector (not read)'
      : r.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join('   ');
    console.log(`${mark} ${r.file.padEnd(24)} → ${words}`);
  }
  console.log(
    `\n${correct}/${results.length} read correctly (top-1) in ${(ms / 1000).toFixed(2)} s, decoding included${noFace ? `; ${noFace} with no face found` : ''}.`,
  );
  return 0;
}
