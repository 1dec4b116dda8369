// The reference face the mouth ROI is aligned to: anchor points (eye centres, nose tip, mouth
// corners) in a canonical face frame. Its scale matches data/crop.ts landmarkMouthCrop
// (inter-ocular distance 80 px, eyes level), so a 96×96 ROI centred on the aligned mouth
// shows the same field of view as `prepare --crop landmarks`; the proportions (nose tip 0.54,
// mouth 1.06 inter-ocular distances below the eyes, mouth 0.71 of it wide) are those of an
// average frontal face.
import { type Affine, type Point, fitSimilarity, mean } from './geometry.js';
import { type Landmarks, LEFT_EYE, RIGHT_EYE, NOSE_TIP, pick } from './landmarks.js';

export const REFERENCE_FACE = {
  leftEye: [88, 100] as Point,
  rightEye: [168, 100] as Point,
  noseTip: [128, 143] as Point,
  mouthLeft: [100, 185] as Point,
  mouthRight: [156, 185] as Point,
};

/** Inter-ocular distance of the reference face (pixels), shared with data/crop.ts landmarkMouthCrop. */
export const REFERENCE_EYE_DISTANCE = 80;

/** Mouth corners move while speaking, so they count half as much as eyes and nose. */
const ANCHOR_WEIGHTS = [1, 1, 1, 0.5, 0.5];

function anchors(lm: Landmarks): Point[] {
  return [mean(pick(lm, LEFT_EYE)), mean(pick(lm, RIGHT_EYE)), lm[NOSE_TIP], lm[48], lm[54]];
}

/** Similarity transform frame → reference-face frame fitted on the anchor points. */
export function alignToReference(lm: Landmarks): Affine {
  const t = REFERENCE_FACE;
  return fitSimilarity(
    anchors(lm),
    [t.leftEye, t.rightEye, t.noseTip, t.mouthLeft, t.mouthRight],
    ANCHOR_WEIGHTS,
  );
}
