// `eflip predict`: top-k words for video files (LRW clips, mouth-ROI videos, or arbitrary
// videos of any length/fps/size, cropped the way the checkpoint was trained).
import { parseOrHelp, UsageError, defineCommand, INFERENCE_OPTIONS } from '../args.js';
import { guardOutputs } from '../../io/output_path.js';
import { loadLipReader } from '../../infer/load_node.js';
import { loadClip } from '../../infer/frame_reader.js';
import { faceClipReader } from '../../infer/face_clips.js';
import { incompleteWarning } from '../../data/video.js';
import { printable } from '../../io/printable.js';
import { clipResult } from '../predict_result.js';
import type { Clip } from '../../infer/types.js';

export const def = defineCommand({
  name: 'predict',
  usage: 'predict VIDEO... --checkpoint PATH [--top 5] [--json] [--runtime onnx|torch]',
  description: [
    "Lipread video files: decode (ffmpeg, 25 fps; grey, or RGB for colour models), crop (the model's",
    'crop rule), normalise, and print the top-k words with probabilities. --checkpoint takes an',
    'exported .onnx file or a checkpoint (.safetensors or a training .ckpt; exported in memory for',
    'the onnx runtime).',
  ].join('\n'),
  options: {
    checkpoint: {
      type: 'string',
      alias: 'c',
      help: 'model: .onnx (from `eflip export`) or .safetensors checkpoint',
    },
    top: {
      type: 'int',
      alias: 'k',
      default: 5,
      help: 'number of words per video',
      min: 1,
      max: 1000,
    },
    json: { type: 'boolean', help: 'print JSON' },
    ...INFERENCE_OPTIONS,
    batch: {
      type: 'int',
      default: 8,
      help: 'clips per batch (equal lengths batch together)',
      min: 1,
      max: 256,
    },
    threads: {
      type: 'threads',
      help: 'threads (default: the cores); onnxruntime on the CPU with 2+: front-end lanes, see docs/inference.md',
    },
    'max-seconds': {
      type: 'number',
      default: 60,
      help: 'longer videos are refused (one clip in memory); use `eflip stream` for them',
      min: 0.04,
      max: 120,
    },
    face: {
      type: 'boolean',
      help: 'arbitrary footage: find the face (eflip roi) and read its aligned 96×96 mouth ROI',
    },
    annotate: {
      type: 'string',
      help: 'write an annotated mp4 (face box, landmarks, mouth ROI, predicted word); one video; implies --face',
    },
  },
  examples: [
    'eflip predict clip.mp4 --checkpoint lipreader.onnx --top 3',
    'eflip predict talking_head.mp4 --checkpoint lipreader.onnx --annotate annotated.mp4',
    'eflip predict a.mp4 b.mp4 --checkpoint best.safetensors --runtime torch --json',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (!o.checkpoint) throw new UsageError('--checkpoint is required');
  if (!p.positionals.length) throw new UsageError('give at least one video file');
  if (o.annotate && p.positionals.length !== 1)
    throw new UsageError('--annotate takes exactly one video');
  if (o.annotate)
    guardOutputs(
      [{ flag: '--annotate', path: o.annotate }],
      [
        ...p.positionals.map((f) => ({ flag: 'VIDEO', path: f })),
        { flag: '--checkpoint', path: o.checkpoint },
      ],
    );
  const face =
    o.face || !!o.annotate ? await faceClipReader({ keepLandmarks: !!o.annotate }) : null;
  const reader = await loadLipReader(o.checkpoint, {
    runtime: o.runtime,
    device: o.device,
    threads: o.threads,
  });
  const results: any[] = [];
  const warnings = new Map<string, string>(); // file → the truncated-video warning
  let failed = 0;
  try {
    for (let i = 0; i < p.positionals.length; i += o.batch) {
      const files = p.positionals.slice(i, i + o.batch);
      const clips: (Clip | null)[] = [];
      for (const f of files) {
        try {
          // --max-seconds is checked from the probe before anything is decoded or tracked
          const onIncomplete = (decoded: number, expected: number) =>
            warnings.set(f, incompleteWarning(f, decoded, expected));
          const clip = face
            ? await face.load(
                f,
                reader.preprocessing,
                reader.channels,
                o['max-seconds'],
                onIncomplete,
              )
            : await loadClip(f, reader.preprocessing, {
                maxSeconds: o['max-seconds'],
                channels: reader.channels,
                onIncomplete,
              });
          clips.push(clip);
        } catch (e) {
          const msg =
            (e as Error).message +
            ((e as { kind?: string }).kind === 'too-long'
              ? '; use `eflip stream` for long videos'
              : '');
          clips.push(null);
          results[i + clips.length - 1] = { file: f, error: msg };
          // one line naming the video (the readers' errors name it; the crop's and the model's do not)
          const named = msg.startsWith(`${printable(f)}: `) ? msg : `${printable(f)}: ${msg}`;
          console.error(`eflip predict: ${printable(named)}`);
          failed++;
        }
      }
      const ok = clips.map((c, j) => [c, files[j]] as const).filter(([c]) => c) as [Clip, string][];
      const t0 = performance.now();
      const lps = await reader.predictBatch(ok.map(([c]) => c));
      const ms = (performance.now() - t0) / Math.max(1, ok.length);
      const slots = clips.map((c, j) => (c ? i + j : -1)).filter((j) => j >= 0);
      ok.forEach(([c, f], j) => {
        const warning = warnings.get(f);
        if (warning) console.error(warning);
        results[slots[j]] = {
          file: f,
          ...(warning ? { warning } : {}),
          ...clipResult(reader, lps[j], c.frames, c.fps ?? 25, o.top, ms),
        };
      });
    }
    if (o.annotate && results[0]?.top) {
      const best = results[0].top[0];
      const r = await face!.annotate(
        p.positionals[0],
        o.annotate,
        `${best.label} ${(100 * best.probability).toFixed(0)}%`,
      );
      results[0].annotated = o.annotate;
      if (!r.labelDrawn)
        console.error(
          'eflip predict: no font found (install fonts-dejavu-core); the video is annotated without the word',
        );
    }
  } finally {
    await reader.dispose();
  }
  if (o.json)
    console.log(
      JSON.stringify({ runtime: reader.runtime, device: reader.device, results }, null, 2),
    );
  else {
    for (const r of results) {
      if (r.error) continue; // reported on stderr
      console.log(`${printable(r.file)}  (${r.frames} frames, ${r.seconds} s)`);
      r.top.forEach((t: any, k: number) =>
        console.log(
          `  ${String(k + 1).padStart(2)}. ${t.label.padEnd(16)} ${t.probability.toFixed(4)}`,
        ),
      );
    }
  }
  if (failed && p.positionals.length > 1)
    console.error(`eflip predict: ${failed} of ${p.positionals.length} videos failed`);
  return failed ? 1 : 0;
}
