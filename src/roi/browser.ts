// Browser entry of eflip/roi (the "browser" export condition): the frame-level ROI pipeline that
// Node and the web app share — detector over caller-supplied face models, tracking, gap filling,
// smoothing, alignment and the mouth-ROI cut. File and ffmpeg parts (pipeline.ts, annotate.ts,
// landmarks_file.ts, backend.ts) stay Node-only.
export { RoiError, type RoiErrorKind } from './errors.js';
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
  DETECT_EVERY,
  type FrameObservation,
  type TrackOptions,
  type TrackResult,
} from './track.js';
export { fillLandmarkGaps } from './interpolate.js';
export { smoothLandmarks } from './smooth.js';
export { REFERENCE_FACE, REFERENCE_EYE_DISTANCE, alignToReference } from './template.js';
export {
  cutMouthRoi,
  cutMouthRois,
  cutMouthRoisStream,
  mouthRoiTransform,
  mouthRoiQuad,
  type MouthRois,
  type MouthRoiOptions,
  type RoiAlign,
} from './mouth_roi.js';
export {
  track,
  landmarksRecord,
  roiFromFrames,
  landmarksForFrames,
  type RoiOptions,
  type RoiResult,
} from './frames_roi.js';
export type { Frame, FrameStack } from './image.js';
export type { Landmarks } from './landmarks.js';
