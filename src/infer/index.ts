// Node entry of eflip's inference ("eflip/infer"): LipReader over onnxruntime-node (CPU, CUDA)
// or libtorch, shared pre-processing (decode → crop → normalise) and streaming.
//
//   const reader = await lipreader('lipreader.onnx');       // or a .safetensors checkpoint; { face: true } for any footage
//   console.log((await reader.read('clip.mp4')).top);       // reader.stream('long.mp4') → timeline
//   await reader.dispose();
// The layers below (loadLipReader, loadClip, StreamingLipReader, ...) stay public.
export * from './types.js';
export {
  lipreader,
  type Lipreader,
  type LipreaderOptions,
  type ReadResult,
  type StreamResult,
  type StreamReadOptions,
} from './pipeline.js';
export { faceClipReader, type FaceClipReader } from './face_clips.js';
export { loadLipReader, loadOnnxLipReader, onnxSourceFor, type LoadOptions } from './load_node.js';
export { loadClip, readModelFrames, filterChain } from './frame_reader.js';
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
export { nodePlatform, CPU_CONFIG, type NodeDevice } from './ort_node.js';
export { pinDimensions } from '../io/onnx/static_dims.js';
export { webPlatform, type WebPlatformOptions } from './ort_web.js';
export { bytesSource, checkpointSource, type OnnxModelSource } from './onnx_model_source.js';
export type { FeatureRunner } from './feature_runner.js';
