// The one-call API of eflip's inference (Node), built on the layers below it:
//
//   const reader = await lipreader('lipreader.onnx');          // or a .safetensors checkpoint
//   const { top } = await reader.read('clip.mp4');              // top-k words with probabilities
//   const { segments } = await reader.stream('long.mp4');       // word timeline
//   await reader.dispose();
//
// load_node.ts opens the model, frame_reader.ts decodes (or face_clips.ts with { face: true }
// for arbitrary footage), streaming.ts makes timelines; nothing here re-implements a rule.
import { incompleteWarning } from '../data/video.js';
import { faceClipReader, type FaceClipReader } from './face_clips.js';
import type { FeatureRunner } from './feature_runner.js';
import { loadClip, readModelFrames } from './frame_reader.js';
import { loadLipReader, type LoadOptions } from './load_node.js';
import { MODEL_FPS } from './preprocess.js';
import {
  appendTimeline,
  StreamingLipReader,
  streamClip,
  timelineSegments,
  type TimelineEntry,
  type TimelineSegment,
} from './streaming.js';
import { InferenceInputError, ReaderDisposedError, type LipReader } from './types.js';

export interface LipreaderOptions extends LoadOptions {
  /** arbitrary footage: find the face and read its aligned mouth ROI (src/roi; loads the face models) */
  face?: boolean;
  /** words per result (default 5) */
  top?: number;
  /** read(): longer videos are refused (default 60 s; use stream() for long videos) */
  maxSeconds?: number;
}

export interface ReadResult {
  file: string;
  /** most probable words, best first */
  top: { label: string; probability: number }[];
  frames: number;
  seconds: number;
  /** set when fewer frames decode than the container promises */
  warning?: string;
}

export interface StreamReadOptions {
  /** frames per window (default 29 = one LRW clip) */
  window?: number;
  /** 'exact' (default): each window = its clip prediction; 'fast': one front-end run per frame */
  mode?: 'exact' | 'fast';
  /** a window every `hop` frames (default 1: every frame); the frames between windows are
   *  batched into the next window's front-end run — cheaper per frame, `hop` frames of latency */
  hop?: number;
  /** words kept per timeline entry (default: the reader's `top`) */
  top?: number;
  /** segments only where the top word is at least this probable (default 0) */
  minProb?: number;
}

export interface StreamResult {
  file: string;
  fps: number;
  frames: number;
  /** runs of equal top word */
  segments: TimelineSegment[];
  /** one entry per frame */
  timeline: TimelineEntry[];
  warning?: string;
}

export interface Lipreader {
  /** the LipReader underneath (runtime, device, labels, preprocessing, predictClip, ...) */
  readonly model: LipReader & FeatureRunner;
  readonly labels: readonly string[];
  /** top-k words of one video (a clip of a word, about 1 s) */
  read(file: string, o?: { top?: number }): Promise<ReadResult>;
  /** word timeline of a video of any length, frame by frame */
  stream(file: string, o?: StreamReadOptions): Promise<StreamResult>;
  dispose(): Promise<void>;
}

/** Open a model (.onnx from `eflip export`, or a .safetensors checkpoint) for reading videos. */
export async function lipreader(model: string, opts: LipreaderOptions = {}): Promise<Lipreader> {
  const top = opts.top ?? 5;
  const maxSeconds = opts.maxSeconds ?? 60;
  if (!Number.isInteger(top) || top < 1)
    throw new InferenceInputError(`top must be a positive integer, got ${opts.top}`);
  if (!(maxSeconds > 0))
    throw new InferenceInputError(`maxSeconds must be > 0, got ${opts.maxSeconds}`);
  const face: FaceClipReader | null = opts.face ? await faceClipReader() : null;
  const reader = await loadLipReader(model, opts);
  let disposed = false;
  const open = () => {
    if (disposed) throw new ReaderDisposedError();
  };
  return {
    model: reader,
    labels: reader.labels,
    async read(file, o = {}) {
      open();
      let warning: string | undefined;
      const onIncomplete = (decoded: number, expected: number) =>
        (warning = incompleteWarning(file, decoded, expected));
      const clip = face
        ? await face.load(file, reader.preprocessing, reader.channels, maxSeconds, onIncomplete)
        : await loadClip(file, reader.preprocessing, {
            maxSeconds,
            channels: reader.channels,
            onIncomplete,
          });
      const lp = await reader.predictClip(clip);
      const best = reader
        .topK(lp, o.top ?? top)
        .map((e) => ({ label: e.label, probability: e.probability }));
      return {
        file,
        top: best,
        frames: clip.frames,
        seconds: clip.frames / (clip.fps ?? MODEL_FPS),
        ...(warning ? { warning } : {}),
      };
    },
    async stream(file, o = {}) {
      open();
      const so = {
        window: o.window ?? 29,
        mode: o.mode ?? 'exact',
        hop: o.hop ?? 1,
        fps: MODEL_FPS,
        topK: o.top ?? top,
      };
      let frames = 0;
      let warning: string | undefined;
      const onIncomplete = (decoded: number, expected: number) =>
        (warning = incompleteWarning(file, decoded, expected));
      let timeline: TimelineEntry[] = [];
      if (face) {
        // the face track needs the whole video (bounded by maxSeconds)
        const clip = await face.load(
          file,
          reader.preprocessing,
          reader.channels,
          maxSeconds,
          onIncomplete,
        );
        frames = clip.frames;
        timeline = await streamClip(reader, clip, so);
      } else {
        const sr = new StreamingLipReader(reader, so);
        for await (const frame of readModelFrames(file, reader.preprocessing, {
          channels: reader.channels,
          onIncomplete,
        })) {
          frames++;
          appendTimeline(timeline, await sr.push(frame));
        }
      }
      if (!timeline.length) throw new InferenceInputError(`${file}: the video has no frames`);
      return {
        file,
        fps: MODEL_FPS,
        frames,
        segments: timelineSegments(timeline, MODEL_FPS, o.minProb ?? 0),
        timeline,
        ...(warning ? { warning } : {}),
      };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await reader.dispose();
    },
  };
}
