// The one-call API in the browser (the twin of pipeline.ts; no Node imports):
//
//   const reader = await lipreader('/models/lipreader.onnx', { wasmPaths: '/ort/' });
//   const { top } = await reader.read(fileInput.files[0]);     // File, Blob, URL or <video>
//   const { segments } = await reader.stream(videoElement);
//
// Frames come from a <video> element seeked at the model's 25 fps and drawn on a canvas; each
// frame then takes the shared crop + normalise (prepareFrames), so every rule is the Node one.
import { loadLipReader, type ModelInput } from './browser_load.js';
import type { OnnxLipReader } from './onnx_lipreader.js';
import type { WebPlatformOptions } from './ort_web.js';
import { MODEL_FPS, prepareFrames, stackFrames } from './preprocess.js';
import {
  appendTimeline,
  StreamingLipReader,
  timelineSegments,
  type TimelineEntry,
} from './streaming.js';
import { InferenceInputError, ReaderDisposedError } from './types.js';
import type { ReadResult, StreamReadOptions, StreamResult } from './pipeline.js';

export type { ReadResult, StreamReadOptions, StreamResult } from './pipeline.js';

/** A video: an element (used as it is, seeked), a File/Blob, or a URL (fetched whole). */
export type VideoInput = HTMLVideoElement | Blob | string | URL;

export interface BrowserLipreaderOptions extends WebPlatformOptions {
  /** words per result (default 5) */
  top?: number;
  /** longer videos are refused (default 60 s) */
  maxSeconds?: number;
  /** streaming graphs, when not next to the model URL */
  frontend?: ModelInput;
  backend?: ModelInput;
  /** arbitrary footage through the face pipeline: not in the browser build (use `eflip roi` first) */
  face?: boolean;
}

export interface BrowserLipreader {
  readonly model: OnnxLipReader;
  readonly labels: readonly string[];
  read(video: VideoInput, o?: { top?: number }): Promise<ReadResult>;
  stream(video: VideoInput, o?: StreamReadOptions): Promise<StreamResult>;
  dispose(): Promise<void>;
}

function once(v: HTMLVideoElement, ok: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      v.removeEventListener(ok, done);
      v.removeEventListener('error', fail);
      resolve();
    };
    const fail = () => {
      v.removeEventListener(ok, done);
      v.removeEventListener('error', fail);
      reject(
        new InferenceInputError(
          `${what}: the browser cannot decode this video (${v.error?.message || `media error ${v.error?.code ?? '?'}`})`,
        ),
      );
    };
    v.addEventListener(ok, done);
    v.addEventListener('error', fail);
  });
}

/** RGB frames of a video at 25 fps, one at a time (a seek and a canvas draw per frame). */
export async function* videoFrames(
  input: VideoInput,
  maxSeconds = 60,
): AsyncGenerator<{ data: Uint8Array; height: number; width: number }> {
  const name =
    input instanceof Blob
      ? ((input as File).name ?? 'blob')
      : typeof HTMLVideoElement !== 'undefined' && input instanceof HTMLVideoElement
        ? input.currentSrc || 'video element'
        : String(input);
  let video: HTMLVideoElement;
  let url: string | null = null;
  if (typeof HTMLVideoElement !== 'undefined' && input instanceof HTMLVideoElement) video = input;
  else {
    video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.preload = 'auto';
    // a URL is fetched whole: frame-accurate seeks need a seekable source, and a server without
    // range requests gives none
    let blob: Blob;
    if (input instanceof Blob) blob = input;
    else {
      const r = await fetch(String(input));
      if (!r.ok) throw new InferenceInputError(`${name}: HTTP ${r.status}`);
      blob = await r.blob();
    }
    video.src = url = URL.createObjectURL(blob);
  }
  try {
    if (video.readyState < 2) await once(video, 'loadeddata', name);
    const d = video.duration;
    if (!Number.isFinite(d) || d <= 0)
      throw new InferenceInputError(`${name}: the video has no known duration`);
    if (d > maxSeconds)
      throw new InferenceInputError(
        `${name}: ${d.toFixed(1)} s is longer than maxSeconds (${maxSeconds} s)`,
      );
    if (!(video.seekable.length && video.seekable.end(video.seekable.length - 1) >= d - 1e-3)) {
      throw new InferenceInputError(
        `${name}: the video element cannot seek (its server answers no range requests); pass the File/Blob or the URL instead`,
      );
    }
    const width = video.videoWidth,
      height = video.videoHeight;
    if (!width || !height) throw new InferenceInputError(`${name}: the video has no picture`);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    const n = Math.max(1, Math.round(d * MODEL_FPS));
    for (let i = 0; i < n; i++) {
      // the middle of output frame i: the source frame shown there (what ffmpeg's fps filter picks)
      const t = Math.min((i + 0.5) / MODEL_FPS, d - 1e-3);
      if (Math.abs(video.currentTime - t) > 1e-6) {
        const seeked = once(video, 'seeked', name);
        video.currentTime = t;
        await seeked;
      }
      ctx.drawImage(video, 0, 0, width, height);
      const rgba = ctx.getImageData(0, 0, width, height).data;
      const rgb = new Uint8Array(width * height * 3);
      for (let p = 0, q = 0; q < rgb.length; p += 4, q += 3) {
        rgb[q] = rgba[p];
        rgb[q + 1] = rgba[p + 1];
        rgb[q + 2] = rgba[p + 2];
      }
      yield { data: rgb, height, width };
    }
  } finally {
    if (url) {
      video.removeAttribute('src');
      video.load();
      URL.revokeObjectURL(url);
    }
  }
}

/** Open an exported .onnx model (URL, File/Blob or bytes) for reading videos in the browser. */
export async function lipreader(
  model: ModelInput | Blob,
  opts: BrowserLipreaderOptions = {},
): Promise<BrowserLipreader> {
  if (opts.face)
    throw new InferenceInputError(
      'face: true is not available in the browser build; cut the mouth ROI with `eflip roi` (Node) or pass footage of a mouth-centred face',
    );
  const top = opts.top ?? 5;
  const maxSeconds = opts.maxSeconds ?? 60;
  if (!Number.isInteger(top) || top < 1)
    throw new InferenceInputError(`top must be a positive integer, got ${opts.top}`);
  const input = model instanceof Blob ? new Uint8Array(await model.arrayBuffer()) : model;
  const reader = await loadLipReader(input, opts);
  const frames = async function* (video: VideoInput) {
    for await (const f of videoFrames(video, maxSeconds)) {
      yield prepareFrames(
        { ...f, frames: 1, channels: 3 },
        reader.preprocessing,
        MODEL_FPS,
        reader.channels,
      ).data;
    }
  };
  let disposed = false;
  const open = () => {
    if (disposed) throw new ReaderDisposedError();
  };
  const nameOf = (v: VideoInput) =>
    v instanceof Blob
      ? ((v as File).name ?? 'blob')
      : typeof HTMLVideoElement !== 'undefined' && v instanceof HTMLVideoElement
        ? v.currentSrc
        : String(v);
  return {
    model: reader,
    labels: reader.labels,
    async read(video, o = {}) {
      open();
      const all: Float32Array[] = [];
      for await (const f of frames(video)) all.push(f);
      const clip = stackFrames(all, reader.channels, reader.preprocessing.size, MODEL_FPS);
      const best = reader
        .topK(await reader.predictClip(clip), o.top ?? top)
        .map((e) => ({ label: e.label, probability: e.probability }));
      return {
        file: nameOf(video),
        top: best,
        frames: clip.frames,
        seconds: clip.frames / MODEL_FPS,
      };
    },
    async stream(video, o = {}) {
      open();
      const sr = new StreamingLipReader(reader, {
        window: o.window ?? 29,
        mode: o.mode ?? 'exact',
        hop: o.hop ?? 1,
        fps: MODEL_FPS,
        topK: o.top ?? top,
      });
      const timeline: TimelineEntry[] = [];
      let count = 0;
      for await (const f of frames(video)) {
        count++;
        appendTimeline(timeline, await sr.push(f));
      }
      return {
        file: nameOf(video),
        fps: MODEL_FPS,
        frames: count,
        segments: timelineSegments(timeline, MODEL_FPS, o.minProb ?? 0),
        timeline,
      };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await reader.dispose();
    },
  };
}
