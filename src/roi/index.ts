// Public API of the ROI module: arbitrary footage → main-face landmarks → 96×96 mouth ROI.
export { RoiError, type RoiErrorKind } from './errors.js';
export { FaceModelError, faceModels, faceModelDir } from './backend.js';
export {
  FaceDetector,
  type FaceBox,
  type CropWindow,
  type DetectorKind,
  type LandmarkKind,
  type FaceDetectorOptions,
} from './detector.js';
export {
  trackMainFace,
  pickMainFace,
  type FrameObservation,
  type TrackOptions,
  type TrackResult,
} from './track.js';
export { fillLandmarkGaps } from './interpolate.js';
export { smoothLandmarks } from './smooth.js';
export { REFERENCE_FACE, REFERENCE_EYE_DISTANCE, alignToReference } from './template.js';
export {
  cutMouthRois,
  cutMouthRoisStream,
  mouthRoiTransform,
  mouthRoiQuad,
  type MouthRois,
  type MouthRoiOptions,
  type RoiAlign,
} from './mouth_roi.js';
export {
  roiFromVideo,
  roiVideoToFile,
  roiFromFrames,
  landmarksForVideo,
  landmarksForFrames,
  decodeForRoi,
  type RoiOptions,
  type RoiResult,
} from './pipeline.js';
export {
  readLandmarksFile,
  writeLandmarksFile,
  landmarkCachePath,
  sha256File,
  LANDMARKS_FORMAT,
  type LandmarksFile,
} from './landmarks_file.js';
export { annotateVideo, annotateFrames, type AnnotateOptions } from './annotate.js';
export { composeVideo, photoToFrame, type Motion, type ComposeOptions } from './synthetic.js';
export type { Frame, FrameStack } from './image.js';
export type { Landmarks } from './landmarks.js';
