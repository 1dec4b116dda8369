// int8 export (`eflip export --quantize int8`, `eflip bench infer --int8`): calibrate activation
// ranges by running the float model on onnxruntime over calibration clips, rewrite the graph
// (src/io/onnx/quantize.ts), and measure top-1 of float vs int8 on a held-out split.
import type { LoadedCheckpoint } from '../io/onnx/checkpoint_weights.js';
import { exportModelProto, exportOnnx } from '../io/onnx/export_model.js';
import { encodeModel } from '../io/onnx/onnx_proto.js';
import {
  calibrationModel,
  calibrationTensors,
  quantizeModel,
  RangeObserver,
  DEFAULT_QUANT_KINDS,
  type WeightBits,
  type CalibrationMethod,
  type QuantKind,
  type QuantizeReport,
} from '../io/onnx/quantize.js';
import type { GraphKind } from '../io/onnx/network_graph.js';
import { nodePlatform } from '../infer/ort_node.js';
import { openSession, tensorData } from '../infer/ort_session.js';
import { inputPlanes } from '../infer/preprocess.js';
import { padTime } from '../infer/frontend_split.js';
import type { Split } from '../data/lrw.js';

/** Network inputs: float32 (B, C, T, S, S), already normalised. */
export interface InputBatch {
  data: Float32Array;
  dims: number[];
  /** class index per clip (when known) */
  labels?: number[];
}

export interface Int8Options {
  kinds?: QuantKind[];
  method?: CalibrationMethod;
  /** worker threads for the calibration session */
  threads?: number;
  /** weight range, 7 (default: exact on every CPU) or 8 bits (src/io/onnx/quantize.ts) */
  weightBits?: WeightBits;
}

export interface Int8Result {
  bytes: Uint8Array;
  report: QuantizeReport;
  calibrationClips: number;
}

/** Calibrate on `batches` and quantize the checkpoint's `kind` graph. */
export async function exportInt8(
  ck: LoadedCheckpoint,
  batches: InputBatch[],
  o: Int8Options = {},
  kind: GraphKind = 'full',
): Promise<Int8Result> {
  const kinds = o.kinds ?? DEFAULT_QUANT_KINDS;
  const m = exportModelProto(ck, kind);
  const tensors = calibrationTensors(m, kinds);
  const p = await nodePlatform('cpu', o.threads);
  const { session } = await openSession(
    p,
    encodeModel(calibrationModel(m, tensors)),
    'calibration model',
  );
  const obs = new RangeObserver(o.method ?? 'minmax');
  let clips = 0;
  try {
    for (const b of batches) {
      const out = await session.run({
        [session.inputNames[0]]: new p.ort.Tensor('float32', b.data, b.dims),
      });
      for (const t of tensors) obs.observe(t, tensorData(out[t]));
      clips += b.dims[0];
    }
  } finally {
    await session.release();
  }
  const { model, report } = quantizeModel(m, obs.ranges(), { kinds, weightBits: o.weightBits });
  model.metadataProps['eflip.quantization'] = JSON.stringify({
    scheme: `int8 QDQ: weights int8 symmetric per channel (${report.weightBits}-bit range), activations uint8 per tensor`,
    weightBits: report.weightBits,
    calibration: o.method ?? 'minmax',
    calibrationClips: clips,
    kinds,
  });
  return { bytes: encodeModel(model), report, calibrationClips: clips };
}

/** The streaming pair (X.frontend.onnx, X.backend.onnx) in int8, calibrated on the same clips
 *  as the full model: the front-end on each clip with one zero frame on each side (what the full
 *  graph's zero padding in time shows its first conv), the back-end on the float front-end's
 *  features of those clips. Every quantized tensor therefore sees the values it sees in the full
 *  graph, so with 'minmax' both halves get the full int8 model's scales and zero points, and a
 *  streamed window equals the int8 model's prediction of that window. */
export async function exportInt8Features(
  ck: LoadedCheckpoint,
  batches: InputBatch[],
  o: Int8Options = {},
): Promise<{ frontend: Int8Result; backend: Int8Result }> {
  const padded = batches.map((b) => {
    const [B, C, T, S] = b.dims;
    return { data: padTime(b.data, [B, C, T, S]), dims: [B, C, T + 2, S, S] };
  });
  const frontend = await exportInt8(ck, padded, o, 'frontend');
  const p = await nodePlatform('cpu', o.threads);
  const { session } = await openSession(p, exportOnnx(ck, 'frontend'), 'float front-end');
  const features: InputBatch[] = [];
  try {
    for (const b of padded) {
      const out = await session.run({
        [session.inputNames[0]]: new p.ort.Tensor('float32', b.data, b.dims),
      });
      const t = out[session.outputNames[0]];
      features.push({ data: tensorData(t).slice(), dims: [...t.dims] });
    }
  } finally {
    await session.release();
  }
  const backend = await exportInt8(ck, features, o, 'backend');
  return { frontend, backend };
}

/** Top-1 of two models over labelled batches: accuracy of each and how often they agree. */
export async function compareTop1(
  fp32: Uint8Array,
  int8: Uint8Array,
  batches: InputBatch[],
  threads?: number,
): Promise<{ clips: number; fp32Top1: number; int8Top1: number; agreement: number }> {
  const p = await nodePlatform('cpu', threads);
  const a = (await openSession(p, fp32, 'float model')).session;
  const b = (await openSession(p, int8, 'int8 model')).session;
  let n = 0,
    ca = 0,
    cb = 0,
    agree = 0;
  const top1 = async (s: typeof a, x: InputBatch): Promise<number[]> => {
    const out = await s.run({ [s.inputNames[0]]: new p.ort.Tensor('float32', x.data, x.dims) });
    const t = out[s.outputNames[0]];
    const y = tensorData(t);
    const k = t.dims[1];
    return Array.from({ length: t.dims[0] }, (_, i) => {
      let best = 0;
      for (let j = 1; j < k; j++) if (y[i * k + j] > y[i * k + best]) best = j;
      return best;
    });
  };
  try {
    for (const x of batches) {
      const pa = await top1(a, x);
      const pb = await top1(b, x);
      pa.forEach((c, i) => {
        n++;
        if (c === pb[i]) agree++;
        if (x.labels && c === x.labels[i]) ca++;
        if (x.labels && pb[i] === x.labels[i]) cb++;
      });
    }
  } finally {
    await a.release();
    await b.release();
  }
  const pct = (v: number) => +((100 * v) / Math.max(1, n)).toFixed(2);
  return { clips: n, fp32Top1: pct(ca), int8Top1: pct(cb), agreement: pct(agree) };
}

/** The clips of one split of an LRW-layout root as the checkpoint's network inputs (the
 *  evaluation pre-processing of `eflip eval`: centre crop, normalisation, word-boundary plane). */
export async function splitBatches(
  ck: LoadedCheckpoint,
  root: string,
  split: Split,
  o: {
    limit?: number;
    batchSize?: number;
    log?: (m: string) => void;
    /** calibration: clips of any word will do when none of the model's words is there */
    anyWords?: boolean;
  } = {},
): Promise<InputBatch[]> {
  const { defaultConfig } = await import('../train/config.js');
  const { loadLrwSplits, MemoryClipSource } = await import('../train/data_source.js');
  const cfg = defaultConfig();
  const p = ck.preprocessing;
  cfg.data.root = root;
  cfg.data.crop = p.crop as typeof cfg.data.crop;
  cfg.data.size = p.size;
  cfg.data.mean = p.mean;
  cfg.data.std = p.std;
  const layout = inputPlanes(ck.config.inChannels);
  cfg.model.in_channels = layout.image;
  cfg.data.word_boundary = layout.wordBoundary;
  // the model's words found under the root (calibration needs none of them: any clips do;
  // accuracy is over the model's words present, labelled by the model's class index)
  const { indexLrw } = await import('../data/lrw.js');
  const present = new Set((await indexLrw(root, { splits: [split] })).words);
  const words = ck.labels.filter((w) => present.has(w));
  const data = await loadLrwSplits(
    cfg,
    [split],
    o.anyWords && !words.length ? null : words,
    o.log,
    o.limit,
  );
  const classOf = new Map(ck.labels.map((w, i) => [w, i]));
  const clips = data.clips[split];
  if (!clips.length)
    throw new Error(
      `no ${split} clips under ${root}${o.anyWords ? '' : " of the model's words"} (an LRW-layout tree: WORD/${split}/*.mp4)`,
    );
  const src = new MemoryClipSource(clips, {
    batchSize: 1,
    shuffle: false,
    seed: 0,
    size: p.size,
    frames: cfg.data.frames,
    mean: p.mean,
    std: p.std,
    augment: null,
    dropLast: false,
    wordBoundary: layout.wordBoundary,
  });
  const C = ck.config.inChannels;
  const T = cfg.data.frames;
  const plane = T * p.size * p.size;
  const bs = o.batchSize ?? 8;
  const out: InputBatch[] = [];
  for (let s = 0; s < clips.length; s += bs) {
    const ids = clips.slice(s, s + bs);
    const x = new Float32Array(ids.length * C * plane);
    ids.forEach((c, j) => {
      src.fill(x, j * C * plane, c, 0, s + j);
      if (layout.wordBoundary) src.fillBoundary(x, j * C * plane + layout.image * plane, c);
    });
    out.push({
      data: x,
      dims: [ids.length, C, T, p.size, p.size],
      labels: ids.map((c) => classOf.get(data.labels[c.label]) ?? -1),
    });
  }
  return out;
}
