// `eflip bench roi`: frames/s of the face/mouth-ROI pipeline on this machine, for 256×256 and
// 640×480 input, made from the real test photograph (test/fixtures/roi/messi5.jpg) with known
// smooth motion (shift, zoom, ±10° rotation) — so every configuration also reports its mouth
// tracking error against the known transform. Configurations compare the detector choices
// (auto/tiny/ssd), landmark nets (full/tiny) and detection intervals (every frame, 5, 25).
// Then end to end from an mp4 written at bench time (256×256 and 1920×1080 by default):
// mp4 → ROI mp4, with the read stage (the one frame reader) timed alone beside ffmpeg's own
// decode. Wall time and this process's CPU time are both reported: on a shared machine the
// CPU time per frame is the steadier figure.
import { spawn } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, UsageError, BENCH_OPTIONS, defineCommand } from '../args.js';

/** timed end-to-end files per size, after one untimed first file */
const E2E_RUNS = 3;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

type Photo = import('../../roi/index.js').Frame;

/**
 * The bench's clips: the test photo's face at ~40 % of the frame height, with smooth drift,
 * zoom and ±10° roll, one cycle per `period` frames (default: the clip, at most 50), frame t of
 * the clip being frame `start` + t of that motion.
 */
function scene(
  width: number,
  height: number,
  frames: number,
  { start = 0, period = Math.min(frames, 50) } = {},
) {
  const zoom = (0.4 * height) / 45;
  const compose = {
    width,
    height,
    anchor: [244, 110] as [number, number],
    zoom,
    at: [width / 2, height * 0.58] as [number, number],
  };
  const motions = Array.from({ length: frames }, (_, t) => {
    const ph = (2 * Math.PI * (t + start)) / period;
    return {
      dx: 0.06 * width * Math.sin(ph),
      dy: 0.04 * height * Math.sin(2 * ph),
      scale: 1 + 0.1 * Math.sin(ph),
      degrees: 10 * Math.sin(ph),
    };
  });
  return { zoom, compose, motions };
}

/** A scene written as an H.264 mp4 at 25 frames/s, one composed frame at a time. */
async function writeSceneClip(file: string, photo: Photo, s: ReturnType<typeof scene>) {
  const { writeFrames } = await import('../../data/video_writer.js');
  const { composeVideo } = await import('../../roi/index.js');
  const { width, height } = s.compose;
  const w = await writeFrames(file, { width, height, channels: 3, fps: 25, crf: 18 });
  for (const m of s.motions) {
    const f = composeVideo(photo, [m], s.compose);
    await w.write({ data: f.data, width, height, channels: 3 });
  }
  await w.close();
}

export const def = defineCommand({
  name: 'bench roi',
  usage:
    'bench roi [--json] [--frames N] [--sizes 256x256,640x480] [--e2e-sizes 256x256,1920x1080] [--e2e-frames N] [--lrw-clips N] [--quick]',
  description:
    'Frames/s of the ROI pipeline (detect/track → landmarks → fill → smooth → align → 96x96 ROI) per input size and configuration, with the mouth-tracking error (px) against the known motion of the synthetic clip; then end to end from an mp4 (mp4 → ROI mp4) with the read stage (decode through the frame reader) timed on its own; then the CPU time of `eflip roi --landmarks-only` per LRW-style clip, ffmpeg included, and what all of LRW would take.',
  options: {
    ...BENCH_OPTIONS,
    frames: { type: 'int', help: 'frames per clip', default: 50 },
    sizes: { type: 'list', help: 'input sizes WxH', default: ['256x256', '640x480'] },
    'e2e-sizes': {
      type: 'list',
      help: 'input sizes WxH of the end-to-end runs',
      default: ['256x256', '1920x1080'],
    },
    'e2e-frames': { type: 'int', help: 'frames of the end-to-end clips', default: 125 },
    'lrw-clips': {
      type: 'int',
      help: 'LRW-style clips (29 frames, 256x256) for the landmark-preparation cost; 0 skips it',
      default: 12,
      min: 0,
      max: 100,
    },
    quick: { type: 'boolean', help: 'only the default configuration' },
  },
});

interface ConfigRow {
  name: string;
  detector: 'auto' | 'tiny' | 'ssd';
  landmarks: 'full' | 'tiny';
  every: number;
  verify: boolean;
}

const CONFIGS: ConfigRow[] = [
  {
    name: 'default (auto, full landmarks, detect every 25)',
    detector: 'auto',
    landmarks: 'full',
    every: 25,
    verify: true,
  },
  {
    name: 'detect every 5 (the default before)',
    detector: 'auto',
    landmarks: 'full',
    every: 5,
    verify: true,
  },
  {
    name: 'detect every frame (auto)',
    detector: 'auto',
    landmarks: 'full',
    every: 1,
    verify: true,
  },
  { name: 'ssd detector, every 25', detector: 'ssd', landmarks: 'full', every: 25, verify: true },
  {
    name: 'tiny landmarks, every 25',
    detector: 'auto',
    landmarks: 'tiny',
    every: 25,
    verify: true,
  },
  {
    name: 'no tracking verification, every 25',
    detector: 'auto',
    landmarks: 'full',
    every: 25,
    verify: false,
  },
];

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (!(o.frames >= 2)) throw new UsageError('--frames must be ≥ 2');
  if (!(o['e2e-frames'] >= 2)) throw new UsageError('--e2e-frames must be ≥ 2');
  const parseSizes = (flag: string, list: string[]) =>
    list.map((s) => {
      const m = /^(\d+)x(\d+)$/.exec(s);
      if (
        !m ||
        !(Number(m[1]) >= 64 && Number(m[2]) >= 64 && Number(m[1]) * Number(m[2]) <= 4096 * 2160)
      )
        throw new UsageError(`--${flag} expects WxH items from 64x64 to 4096x2160, got '${s}'`);
      return { width: Number(m[1]), height: Number(m[2]) };
    });
  const sizes = parseSizes('sizes', o.sizes);
  const e2eSizes = parseSizes('e2e-sizes', o['e2e-sizes']);
  const { decodeVideo, FFMPEG } = await import('../../data/video.js');
  const { readFrames } = await import('../../data/video_stream.js');
  const { FaceDetector, roiFromFrames, roiVideoToFile, composeVideo, photoToFrame } =
    await import('../../roi/index.js');
  const { applyAffine, invertAffine } = await import('../../roi/geometry.js');
  const { mouthCenter } = await import('../../roi/landmarks.js');
  const { frameAt } = await import('../../roi/image.js');
  const v = await decodeVideo(path.join(ROOT, 'test/fixtures/roi/messi5.jpg'));
  const photo = { data: v.data, width: v.width, height: v.height, channels: 3 as const };
  const log = (s: string) => {
    if (!o.json) console.log(s);
  };

  const detectors = new Map<string, Awaited<ReturnType<typeof FaceDetector.create>>>();
  let tfjsDetector: Awaited<ReturnType<typeof FaceDetector.create>> | undefined;
  const getDetector = async (d: ConfigRow['detector'], l: ConfigRow['landmarks']) => {
    const k = `${d}/${l}`;
    if (!detectors.has(k)) {
      const det = await FaceDetector.create({ detector: d, landmarks: l });
      await det.startThread(); // timed runs start with the helper thread ready
      detectors.set(k, det);
    }
    return detectors.get(k)!;
  };

  const cpuMs = (since: NodeJS.CpuUsage) => {
    const c = process.cpuUsage(since);
    return (c.user + c.system) / 1000;
  };

  const results: any[] = [];
  for (const { width, height } of sizes) {
    const { zoom, compose, motions } = scene(width, height, o.frames);
    const clip = composeVideo(photo, motions, compose);
    log(`\n${width}×${height}, ${o.frames} frames (face ≈ ${Math.round(45 * zoom)} px tall):`);

    // per-stage costs with the default detector
    const det = await getDetector('auto', 'full');
    const f0 = frameAt(clip, 0);
    const time = async (fn: () => Promise<unknown>, n = 5) => {
      await fn();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await fn();
      return (performance.now() - t0) / n;
    };
    const boxes = await det.detect(f0);
    const win = boxes.length
      ? FaceDetector.boxWindow(boxes[0])
      : { center: [width / 2, height / 2] as [number, number], size: height / 3, angle: 0 };
    const stages = {
      detectTinyMs: await time(() => det.detect(f0)),
      detectSsdMs: await time(async () => (await getDetector('ssd', 'full')).detect(f0), 3),
      landmarksFullMs: await time(() => det.landmarksIn(f0, win)),
      // the same net by face-api on tfjs (the browser's runtime; Node's before onnxruntime)
      landmarksFullTfjsMs: await time(async () =>
        (tfjsDetector ??= await FaceDetector.create({
          thread: false,
          landmarkRuntime: 'tfjs',
        })).landmarksIn(f0, win),
      ),
      landmarksTinyMs: await time(async () =>
        (await getDetector('auto', 'tiny')).landmarksIn(f0, win),
      ),
      verifyMs: await time(() => det.hasFace(f0, win)),
    };
    log(
      `  per call: detect tiny ${stages.detectTinyMs.toFixed(1)} ms, ssd ${stages.detectSsdMs.toFixed(1)} ms; landmarks full ${stages.landmarksFullMs.toFixed(1)} ms (onnxruntime; tfjs ${stages.landmarksFullTfjsMs.toFixed(1)} ms), tiny ${stages.landmarksTinyMs.toFixed(1)} ms; crop verification ${stages.verifyMs.toFixed(1)} ms`,
    );

    for (const c of o.quick ? CONFIGS.slice(0, 1) : CONFIGS) {
      const d = await getDetector(c.detector, c.landmarks);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let row: any;
      try {
        const r = await roiFromFrames(
          clip,
          { faceDetector: d, every: c.every, verify: c.verify },
          `${width}x${height}`,
        );
        const ms = performance.now() - t0;
        const cpu = cpuMs(c0);
        const found = r.info.raw.filter(Boolean).length;
        const firstT = r.info.raw.findIndex(Boolean);
        const anchor = applyAffine(
          invertAffine(photoToFrame(motions[firstT], compose)),
          mouthCenter(r.info.raw[firstT]!),
        );
        const err = (lm: [number, number][], t: number) => {
          const e = applyAffine(photoToFrame(motions[t], compose), anchor);
          const m = mouthCenter(lm);
          return Math.hypot(m[0] - e[0], m[1] - e[1]);
        };
        const errs = r.info.landmarks.map(err);
        const rawErrs = r.info.raw.flatMap((lm, t) => (lm ? [err(lm, t)] : []));
        row = {
          size: `${width}x${height}`,
          config: c.name,
          detector: c.detector,
          landmarks: c.landmarks,
          every: c.every,
          verify: c.verify,
          fps: +(o.frames / (ms / 1000)).toFixed(1),
          msPerFrame: +(ms / o.frames).toFixed(1),
          cpuMsPerFrame: +(cpu / o.frames).toFixed(1),
          detections: r.info.detections,
          tracked: r.info.tracked,
          framesWithFace: found,
          filled: r.info.filled.length,
          mouthErrMeanPx: +(errs.reduce((a, b) => a + b, 0) / errs.length).toFixed(2),
          mouthErrMaxPx: +Math.max(...errs).toFixed(2),
          rawMouthErrMeanPx: +(rawErrs.reduce((a, b) => a + b, 0) / rawErrs.length).toFixed(2),
        };
        log(
          `  ${c.name.padEnd(48)} ${String(row.fps).padStart(6)} frames/s, ${row.cpuMsPerFrame} ms CPU/frame  (${row.detections} detections, ${row.tracked} tracked, ${row.filled} filled; mouth error mean ${row.mouthErrMeanPx} px, max ${row.mouthErrMaxPx} px; before smoothing ${row.rawMouthErrMeanPx} px)`,
        );
      } catch (e) {
        row = { size: `${width}x${height}`, config: c.name, error: (e as Error).message };
        log(`  ${c.name.padEnd(48)} failed: ${(e as Error).message}`);
      }
      results.push(row);
    }
    results.push({
      size: `${width}x${height}`,
      stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, +v.toFixed(2)])),
    });
  }
  // end to end from an mp4 file: read (the one frame reader) → track → cut → ROI mp4; the
  // read stage is also timed alone on the same file, beside ffmpeg decoding it alone
  const det = await getDetector('auto', 'full');
  for (const { width, height } of e2eSizes) {
    const n = o['e2e-frames'];
    const clip = scene(width, height, n);
    log(
      `\n${width}×${height}, ${n} frames from mp4 (face ≈ ${Math.round(45 * clip.zoom)} px tall):`,
    );
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'eflip-bench-roi-'));
    try {
      const src = path.join(tmp, 'clip.mp4');
      await writeSceneClip(src, photo, clip);
      const timeRun = async (fn: () => Promise<unknown>) => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await fn();
        return { ms: performance.now() - t0, cpu: cpuMs(c0) };
      };
      const ffmpegAlone = await timeRun(
        () =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(
              FFMPEG,
              ['-v', 'error', '-nostdin', '-threads', '1', '-i', src, '-f', 'null', '-'],
              { stdio: 'ignore' },
            );
            child.on('error', reject);
            child.on('close', () => resolve());
          }),
      );
      const read = await timeRun(async () => {
        const rd = await readFrames(src);
        for await (const f of rd.frames()) void f;
      });
      // as `eflip roi --out`: the encoder runs while the face is tracked. The first file of a
      // process pays one-time costs (code paths compiled, the helper thread's first
      // detections); the figure is the median of E2E_RUNS files after it, as for a batch run
      const once = () =>
        timeRun(() =>
          roiVideoToFile(src, path.join(tmp, 'roi.mp4'), { faceDetector: det, cache: false }),
        );
      const first = await once();
      const runs = [];
      for (let k = 0; k < E2E_RUNS; k++) runs.push(await once());
      const e2e = runs.sort((a, b) => a.ms - b.ms)[E2E_RUNS >> 1];
      const row = {
        size: `${width}x${height}`,
        config: 'end to end: mp4 → ROI mp4 (default)',
        frames: n,
        fps: +(n / (e2e.ms / 1000)).toFixed(1),
        runsFps: runs.map((r) => +(n / (r.ms / 1000)).toFixed(1)),
        firstFileFps: +(n / (first.ms / 1000)).toFixed(1),
        msPerFrame: +(e2e.ms / n).toFixed(2),
        cpuMsPerFrame: +(e2e.cpu / n).toFixed(2),
        readFps: +(n / (read.ms / 1000)).toFixed(1),
        readMsPerFrame: +(read.ms / n).toFixed(2),
        readCpuMsPerFrame: +(read.cpu / n).toFixed(2),
        readShare: +(read.ms / e2e.ms).toFixed(2),
        ffmpegDecodeMsPerFrame: +(ffmpegAlone.ms / n).toFixed(2),
      };
      results.push(row);
      log(
        `  ${row.config.padEnd(48)} ${String(row.fps).padStart(6)} frames/s (${row.msPerFrame} ms/frame, ${row.cpuMsPerFrame} ms CPU/frame in this process; median of ${row.runsFps.join(', ')}; the process's first file ${row.firstFileFps})`,
      );
      log(
        `  ${'read stage alone (frame reader)'.padEnd(48)} ${String(row.readFps).padStart(6)} frames/s (${row.readMsPerFrame} ms/frame, ${(100 * row.readShare).toFixed(0)} % of end to end; ffmpeg decoding alone ${row.ffmpegDecodeMsPerFrame} ms/frame)`,
      );
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }
  const lrw = o['lrw-clips'] > 1 ? await lrwLandmarkCost(o['lrw-clips'], photo) : null;
  if (lrw)
    log(
      `\nLRW-style clips (29 frames, 256×256), \`eflip roi --landmarks-only --jobs 1\`: ${lrw.cpuSPerClip} s CPU per clip (ffprobe and ffmpeg included; marginal over ${lrw.clips} clips) → LRW's ${LRW_CLIPS} clips ≈ ${lrw.lrwCoreHours} core-hours, ≈ ${lrw.lrwHoursOn16Cores} h with --jobs 16 on 16 cores if it scales linearly (an estimate, not a run)`,
    );
  if (o.json) {
    console.log(
      JSON.stringify(
        {
          bench: 'roi',
          frames: o.frames,
          cpus: os.cpus().length,
          backend: `tfjs-${process.env.EFLIP_ROI_BACKEND || 'wasm'}`,
          landmarkRuntime: 'onnxruntime',
          // detections and verifications on a helper thread (src/roi/detector_thread.ts)
          detectorThread: det.parallel,
          results,
          lrw,
        },
        null,
        1,
      ),
    );
  }
  return 0;
}

/** LRW's clips: 488,766 train + 25,000 val + 25,000 test. */
const LRW_CLIPS = 538_766;

/** CPU seconds used so far by this process's waited-for children and their waited-for
 *  children (Linux /proc/self/stat cutime + cstime, in 1/100 s); null elsewhere. */
function childrenCpuS(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100; // fields 16 and 17 of proc(5)
  } catch {
    return null;
  }
}

/**
 * What landmark preparation of LRW costs: `eflip roi --landmarks-only --no-cache --jobs 1` on
 * `n` synthetic 29-frame 256×256 clips (the test photograph in motion) and on the first of them
 * alone, without the helper thread as `--jobs` workers run, CPU of the whole process tree
 * (ffprobe and ffmpeg included); the difference over n − 1
 * clips leaves out the start-up (Node, models) that a long run pays once per worker.
 */
async function lrwLandmarkCost(n: number, photo: Photo) {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'eflip-bench-lrw-'));
  try {
    const files: string[] = [];
    for (let c = 0; c < n; c++) {
      // clip c: 29 frames of the 50-frame motion cycle from its frame 7c
      const file = path.join(tmp, `clip${c}.mp4`);
      await writeSceneClip(file, photo, scene(256, 256, 29, { start: 7 * c, period: 50 }));
      files.push(file);
    }
    const cpuOf = async (clips: string[]) => {
      const before = childrenCpuS();
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            path.join(ROOT, 'bin/eflip.js'),
            'roi',
            ...clips,
            '--landmarks-only',
            '--no-cache',
            '--jobs',
            '1',
          ],
          // no helper thread, as `--jobs N` workers run (they share the cores with each other)
          { stdio: 'ignore', env: { ...process.env, EFLIP_ROI_THREAD: '0' } },
        );
        child.on('error', reject);
        child.on('close', resolve);
      });
      const after = childrenCpuS();
      if (code !== 0) throw new Error(`eflip roi exited with ${code}`);
      return before === null || after === null ? null : after - before;
    };
    const one = await cpuOf(files.slice(0, 1));
    const all = await cpuOf(files);
    if (one === null || all === null) return null;
    const perClip = (all - one) / (n - 1);
    const coreHours = (perClip * LRW_CLIPS) / 3600;
    return {
      clips: n,
      cpuSOneClip: +one.toFixed(2),
      cpuSAllClips: +all.toFixed(2),
      cpuSPerClip: +perClip.toFixed(3),
      lrwClips: LRW_CLIPS,
      lrwCoreHours: +coreHours.toFixed(1),
      lrwHoursOn16Cores: +(coreHours / 16).toFixed(1),
    };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}
