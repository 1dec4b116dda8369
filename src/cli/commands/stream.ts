// `eflip stream`: a word timeline over a long video, frame by frame (each new frame gives the
// distribution over the last N frames; per-frame front-end features are computed once).
import { parseOrHelp, UsageError, defineCommand, INFERENCE_OPTIONS } from '../args.js';
import { loadLipReader } from '../../infer/load_node.js';
import { readModelFrames } from '../../infer/frame_reader.js';
import { MODEL_FPS } from '../../infer/preprocess.js';
import { incompleteWarning } from '../../data/video.js';
import {
  appendTimeline,
  StreamingLipReader,
  pushAll,
  timelineSegments,
  type TimelineEntry,
} from '../../infer/streaming.js';

export const def = defineCommand({
  name: 'stream',
  usage: 'stream VIDEO --checkpoint PATH [--window 29] [--json]',
  description: [
    'Run a video through the streaming lipreader: frames are fed one at a time and every frame',
    'yields the word distribution over the last --window frames. Prints segments of equal top',
    'word (with --json: the full per-frame timeline too). --checkpoint takes a .safetensors',
    'checkpoint or a .onnx exported with --features (X.frontend.onnx and X.backend.onnx beside it).',
  ].join('\n'),
  options: {
    checkpoint: {
      type: 'string',
      alias: 'c',
      help: 'model: .safetensors, or .onnx exported with --features',
    },
    window: {
      type: 'int',
      alias: 'w',
      default: 29,
      help: 'frames per window (29 = one LRW clip, 1.16 s)',
      min: 1,
      max: 750,
    },
    hop: {
      type: 'int',
      default: 1,
      help: 'a window every N frames (the frames between are batched into its front-end run): cheaper per frame, N frames of latency',
      min: 1,
      max: 750,
    },
    top: {
      type: 'int',
      alias: 'k',
      default: 3,
      help: 'words kept per frame in the JSON timeline',
      min: 1,
      max: 1000,
    },
    'min-prob': {
      type: 'number',
      default: 0,
      help: 'hide frames whose top word is less probable',
      min: 0,
      max: 1,
    },
    mode: {
      type: 'string',
      choices: ['exact', 'fast'],
      default: 'exact',
      help: 'exact: each window = its clip prediction (3 front-end runs/frame); fast: 1 run/frame, 1 frame latency',
    },
    json: { type: 'boolean', help: 'print JSON (timeline + segments)' },
    ...INFERENCE_OPTIONS,
    threads: { type: 'threads', help: 'intra-op threads' },
  },
  examples: [
    'eflip stream talk.mp4 --checkpoint best.safetensors',
    'eflip stream talk.mp4 --checkpoint lipreader.onnx --window 25 --json > timeline.json',
  ],
});

function clock(s: number): string {
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${(s - 60 * m).toFixed(2).padStart(5, '0')}`;
}

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (!o.checkpoint) throw new UsageError('--checkpoint is required');
  if (p.positionals.length !== 1) throw new UsageError('give exactly one video file');
  const reader = await loadLipReader(o.checkpoint, {
    runtime: o.runtime,
    device: o.device,
    threads: o.threads,
  });
  try {
    const file = p.positionals[0];
    const fps = MODEL_FPS;
    const tty = process.stderr.isTTY && !o.json;
    const sr = new StreamingLipReader(reader, {
      window: o.window,
      mode: o.mode,
      hop: o.hop,
      fps,
      topK: o.top,
    });
    const timeline: TimelineEntry[] = [];
    let frames = 0;
    const onIncomplete = (decoded: number, expected: number) =>
      console.error(incompleteWarning(file, decoded, expected));
    // two frames in flight: a frame's front-end overlaps the previous window's back-end
    const busy = await pushAll(
      sr,
      readModelFrames(file, reader.preprocessing, { channels: reader.channels, onIncomplete }),
      (step) => {
        frames++;
        appendTimeline(timeline, step);
        if (tty && frames % 10 === 0) process.stderr.write(`\rframe ${frames}`);
      },
    );
    if (tty) process.stderr.write('\r\x1b[K');
    if (!frames) throw new Error(`${file}: the video has no frames`);
    const msPerFrame = busy / frames;
    const shown = timeline.filter((e) => e.probability >= o['min-prob']);
    const segments = timelineSegments(timeline, fps, o['min-prob']);
    if (o.json) {
      console.log(
        JSON.stringify(
          {
            file,
            fps,
            frames,
            window: o.window,
            mode: o.mode,
            hop: o.hop,
            msPerFrame: +msPerFrame.toFixed(2),
            segments,
            timeline: shown,
          },
          null,
          2,
        ),
      );
    } else {
      console.log(
        `${file}: ${frames} frames at ${fps} fps, window ${o.window}, ${msPerFrame.toFixed(1)} ms/frame`,
      );
      for (const s of segments)
        console.log(
          `  ${clock(s.start)} - ${clock(s.end)}  ${s.word.padEnd(16)} ${s.probability.toFixed(3)}`,
        );
    }
  } finally {
    await reader.dispose();
  }
  return 0;
}
