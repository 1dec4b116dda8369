// `eflip roi`: face landmarks and a 96×96 mouth-ROI video from arbitrary footage (src/roi).
import * as path from 'node:path';
import { parseOrHelp, UsageError, defineCommand, type ParsedOptions } from '../args.js';
import { guardOutputs, type OutputPath } from '../../io/output_path.js';

export const def = defineCommand({
  name: 'roi',
  usage:
    'roi VIDEO... [--out ROI.mp4 | --out-dir DIR] [--landmarks FILE.json] [--annotate A.mp4] [options]',
  description: [
    'Detect and track the main face, find 68 landmarks per frame (face-api models shipped in node_modules),',
    'fill gaps by interpolation, smooth, align to a reference face and cut a 96x96 mouth ROI (grey by default).',
    'Landmarks are cached in the per-user cache (keyed by content hash; never beside the video) — where',
    '`eflip prepare --crop landmarks` finds them. With several videos, a failing one is reported and the others continue.',
  ].join('\n'),
  options: {
    out: { type: 'string', alias: 'o', help: 'mouth-ROI mp4 (one input video)' },
    'out-dir': {
      type: 'string',
      help: 'write NAME.roi.mp4 and NAME.landmarks.json per input here',
    },
    landmarks: { type: 'string', help: 'write the landmarks JSON here (one input video)' },
    annotate: {
      type: 'string',
      help: 'write an annotated mp4 (box, landmarks, ROI outline) here (one input video)',
    },
    label: { type: 'string', help: 'text to overlay on the annotated video' },
    'landmarks-only': { type: 'boolean', help: 'only compute (and cache) landmarks; no ROI video' },
    color: { type: 'boolean', help: 'keep RGB in the ROI (default: grey)' },
    align: {
      type: 'string',
      choices: ['reference', 'eyes'],
      help: 'ROI alignment: reference face (eyes, nose, mouth corners) or eyes only (= prepare --crop landmarks)',
      default: 'reference',
    },
    size: { type: 'int', help: 'ROI side in pixels', default: 96, min: 8, max: 1024 },
    fps: {
      type: 'number',
      help: 'resample the video to this frame rate first (the model was trained at 25)',
      min: 1,
      max: 240,
    },
    every: {
      type: 'int',
      help: 'full face detection every k frames, landmark tracking in between',
      default: 25,
      min: 1,
      max: 1000,
    },
    detector: {
      type: 'string',
      choices: ['auto', 'tiny', 'ssd'],
      help: 'face detector',
      default: 'auto',
    },
    'landmark-net': {
      type: 'string',
      choices: ['full', 'tiny'],
      help: '68-point landmark net',
      default: 'full',
    },
    smooth: {
      type: 'int',
      help: 'landmark smoothing window in frames (1 = off)',
      default: 5,
      min: 1,
      max: 101,
    },
    'max-outside': {
      type: 'number',
      help: 'fail when more than this fraction of the ROI lies outside the frame',
      default: 0.25,
      min: 0,
      max: 1,
    },
    'no-cache': { type: 'boolean', help: 'ignore and do not write the landmark cache' },
    json: { type: 'boolean', help: 'print one JSON summary per video' },
    jobs: {
      type: 'threads',
      alias: 'j',
      help: 'worker processes for many videos (each loads its own models)',
      default: 1,
    },
  },
  examples: [
    'eflip roi talk.mp4 --out talk.roi.mp4 --landmarks talk.landmarks.json --annotate talk.annot.mp4',
    'eflip roi clips/*.mp4 --out-dir rois/',
    'eflip roi lipread_mp4/*/test/*.mp4 --landmarks-only --jobs 4',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  const files = p.positionals;
  if (files.length === 0) throw new UsageError('give at least one VIDEO');
  const single = (['out', 'landmarks', 'annotate'] as const).filter((k) => o[k] !== undefined);
  if (files.length > 1 && single.length)
    throw new UsageError(
      `--${single.join(', --')} take(s) one input video; use --out-dir for several`,
    );
  if (!o.out && !o['out-dir'] && !o.landmarks && !o.annotate && !o['landmarks-only']) {
    throw new UsageError(
      'say what to write: --out ROI.mp4, --out-dir DIR, --landmarks FILE.json, --annotate A.mp4 or --landmarks-only',
    );
  }
  guardOutputs(
    plannedOutputs(files, o),
    files.map((f) => ({ flag: 'VIDEO', path: f })),
  );
  if (o.jobs > 1 && files.length > 1) return runWorkers(files, o);

  const {
    FaceDetector,
    roiVideoToFile,
    roiFromVideo,
    landmarksForVideo,
    writeLandmarksFile,
    annotateVideo,
    RoiError,
  } = await import('../../roi/index.js');
  const { incompleteWarning, VideoError } = await import('../../data/video.js');
  const detector = await FaceDetector.create({
    detector: o.detector,
    landmarks: o['landmark-net'],
    // a --jobs worker shares the cores with the other jobs: no helper thread of its own
    thread: process.env.EFLIP_ROI_WORKER !== '1',
  });
  let failed = 0;
  for (const [i, file] of files.entries()) {
    const t0 = performance.now();
    const tag = files.length > 1 ? `[${i + 1}/${files.length}] ` : '';
    let warning: string | null = null;
    try {
      const roiOpts = {
        faceDetector: detector,
        every: o.every,
        smooth: o.smooth,
        fps: o.fps,
        size: o.size,
        gray: !o.color,
        align: o.align,
        maxOutside: o['max-outside'],
        cache: !o['no-cache'],
        onIncomplete: (decoded: number, expected: number) => {
          warning = incompleteWarning(file, decoded, expected);
        },
        onProgress: process.stderr.isTTY
          ? (d: number, n: number) => process.stderr.write(`\r${tag}${file}: frame ${d}/${n}`)
          : undefined,
      };
      const stem = path.basename(file).replace(/\.[^.]+$/, '');
      const outVideo =
        o.out ?? (o['out-dir'] ? path.join(o['out-dir'], `${stem}.roi.mp4`) : undefined);
      const outLm =
        o.landmarks ??
        (o['out-dir'] ? path.join(o['out-dir'], `${stem}.landmarks.json`) : undefined);
      // the ROI mp4 is encoded while the face is tracked (roiVideoToFile)
      const r = o['landmarks-only']
        ? { ...(await landmarksForVideo(file, roiOpts)), rois: null }
        : outVideo
          ? await roiVideoToFile(file, outVideo, roiOpts)
          : await roiFromVideo(file, roiOpts);
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      if (warning) console.error(`${tag}${warning}`);
      if (outLm) await writeLandmarksFile(outLm, r.info);
      if (o.annotate)
        await annotateVideo(file, o.annotate, {
          landmarks: r.info.landmarks,
          boxes: r.info.boxes,
          roiSize: o.size,
          align: o.align,
          label: o.label,
          fps: o.fps,
        });
      const ms = performance.now() - t0;
      const summary = {
        video: file,
        ...(warning ? { warning } : {}),
        frames: r.info.frames,
        size: `${r.info.width}x${r.info.height}`,
        faces: r.info.maxFaces,
        detections: r.info.detections,
        tracked: r.info.tracked,
        filled: r.info.filled.length,
        cached: r.cached,
        maxOutside: r.rois ? Math.round(Math.max(...r.rois.outside) * 1000) / 1000 : null,
        out: r.rois ? (outVideo ?? null) : null,
        landmarks: outLm ?? null,
        annotate: o.annotate ?? null,
        ms: Math.round(ms),
      };
      if (o.json) console.log(JSON.stringify(summary));
      else {
        const faces =
          r.info.maxFaces > 1 ? `; ${r.info.maxFaces} faces seen, tracked the main one` : '';
        const fill = r.info.filled.length
          ? `; ${r.info.filled.length} frame(s) without a face filled by interpolation/padding`
          : '';
        // --landmarks-only writes no file: the landmarks go to the cache, unless --no-cache or already there
        const wrote =
          [outVideo && r.rois ? outVideo : '', outLm ?? '', o.annotate ?? '']
            .filter(Boolean)
            .join(', ') ||
          (o['no-cache']
            ? 'nothing written (--no-cache)'
            : r.cached
              ? 'nothing written (landmarks already cached)'
              : 'landmark cache only');
        console.log(
          `${tag}${file}: ${r.info.frames} frames ${summary.size}, ${r.cached ? 'landmarks from cache' : `${r.info.detections} detections + ${r.info.tracked} tracked`}${faces}${fill} → ${wrote} (${(ms / 1000).toFixed(1)} s)`,
        );
      }
    } catch (e) {
      if (!(e instanceof RoiError || e instanceof VideoError)) throw e;
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      failed++;
      if (o.json) console.log(JSON.stringify({ video: file, error: e.message, kind: e.kind }));
      console.error(`${tag}eflip roi: ${e.message}`);
    }
  }
  if (process.env.EFLIP_ROI_WORKER === '1')
    console.log(`${WORKER_TALLY}${JSON.stringify({ done: files.length - failed, failed })}`);
  else if (files.length > 1)
    console.error(
      `${files.length - failed} of ${files.length} videos done${failed ? `, ${failed} failed` : ''}`,
    );
  return failed ? 1 : 0;
}

/** Every file this command may write (for the output-path guard); refuses two inputs that would share an --out-dir name. */
function plannedOutputs(files: string[], o: ParsedOptions<typeof def.options>): OutputPath[] {
  const outs: OutputPath[] = [];
  for (const k of ['out', 'landmarks', 'annotate'] as const)
    if (o[k] !== undefined) outs.push({ flag: `--${k}`, path: o[k]! });
  if (o['out-dir']) {
    outs.push({ flag: '--out-dir', path: o['out-dir'], kind: 'dir' });
    const byStem = new Map<string, string>();
    for (const f of files) {
      const stem = path.basename(f).replace(/\.[^.]+$/, '');
      const other = byStem.get(stem);
      if (other !== undefined) {
        if (path.resolve(other) === path.resolve(f)) continue; // the same video twice
        throw new UsageError(
          `--out-dir: ${other} and ${f} would both write ${stem}.roi.mp4; give them separate --out-dir runs`,
        );
      }
      byStem.set(stem, f);
      if (o.out === undefined)
        outs.push({ flag: '--out-dir', path: path.join(o['out-dir'], `${stem}.roi.mp4`) });
      if (o.landmarks === undefined)
        outs.push({ flag: '--out-dir', path: path.join(o['out-dir'], `${stem}.landmarks.json`) });
    }
  }
  return outs;
}

const WORKER_TALLY = '@@eflip-roi-tally ';

/** The same options as command-line arguments (for worker processes), without --jobs. */
function optionArgs(o: ParsedOptions<typeof def.options>): string[] {
  const args: string[] = [];
  for (const [k, spec] of Object.entries(def.options)) {
    const v = o[k as keyof typeof o];
    if (k === 'jobs' || v === undefined || v === false) continue;
    if (spec.type === 'boolean') args.push(`--${k}`);
    else args.push(`--${k}=${String(v)}`); // --label=-x: a value may start with '-'
  }
  return args;
}

/** Split the videos over `jobs` worker processes (round robin); their lines are passed through. */
async function runWorkers(files: string[], o: ParsedOptions<typeof def.options>): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../../../../bin/eflip.js',
  );
  const jobs = Math.min(o.jobs, files.length);
  let done = 0,
    failed = 0;
  const runs = Array.from({ length: jobs }, (_, k) => {
    const mine = files.filter((_, i) => i % jobs === k);
    return new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [bin, 'roi', ...optionArgs(o), '--', ...mine], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, EFLIP_ROI_WORKER: '1' },
      });
      let tallied = false;
      const lines = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
        let buf = '';
        stream.on('data', (b: Buffer) => {
          buf += b.toString('utf8');
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.startsWith(WORKER_TALLY)) {
              const t = JSON.parse(line.slice(WORKER_TALLY.length));
              done += t.done;
              failed += t.failed;
              tallied = true;
            } else out.write(`${line}\n`);
          }
        });
      };
      lines(child.stdout!, process.stdout);
      lines(child.stderr!, process.stderr);
      child.on('close', (code) => {
        if (!tallied) {
          failed += mine.length;
          console.error(
            `eflip roi: worker ${k + 1} exited with ${code} before finishing its ${mine.length} video(s)`,
          );
        }
        resolve();
      });
    });
  });
  await Promise.all(runs);
  console.error(
    `${done} of ${files.length} videos done${failed ? `, ${failed} failed` : ''} (${jobs} workers)`,
  );
  return failed ? 1 : 0;
}
