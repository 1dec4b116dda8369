// Browser entry of eflip's inference (package export condition "browser" of "eflip/infer"):
// the same LipReader / streaming / pre-processing code over onnxruntime-web (WebGPU or wasm).
// No Node imports here or below.

export * from './types.js';
export { OnnxLipReader } from './onnx_lipreader.js';
export {
  StreamingLipReader,
  streamClip,
  pushAll,
  timelineSegments,
  appendTimeline,
  type StreamOptions,
  type StreamStep,
  type TimelineEntry,
  type TimelineSegment,
} from './streaming.js';
export {
  cropForModel,
  inputPlanes,
  normalise,
  prepareFrames,
  resizeFrames,
  MODEL_FPS,
} from './preprocess.js';
export { topK } from './topk.js';
export { hardwareWebGpu, webPlatform, type WebPlatformOptions } from './ort_web.js';
export { bytesSource } from './onnx_model_source.js';
export type { FeatureRunner } from './feature_runner.js';

export { loadLipReader, type ModelInput } from './browser_load.js';
export {
  lipreader,
  videoFrames,
  type BrowserLipreader,
  type BrowserLipreaderOptions,
  type VideoInput,
  type ReadResult,
  type StreamReadOptions,
  type StreamResult,
} from './browser_pipeline.js';
