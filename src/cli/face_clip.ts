// Clips from arbitrary footage for `eflip predict --face` and `eflip serve`'s POST
// /api/predict?face=1: the main face's mouth ROI (src/roi), then the model's crop and normalisation.
import { inputPlanes, MODEL_FPS, prepareFrames } from '../infer/preprocess.js';
import type { Clip } from '../infer/types.js';

/** Arbitrary footage: the mouth ROI from face landmarks (src/roi), then the model's crop rule
 *  (the 96×96 ROI's centre) and normalisation; keeps the landmarks for --annotate. */
export async function faceRoiReader() {
  const { FaceDetector, roiFromVideo, annotateVideo } = await import('../roi/index.js');
  const detector = await FaceDetector.create();
  const seen = new Map<string, Awaited<ReturnType<typeof roiFromVideo>>['info']>();
  return {
    async load(file: string, pre: Parameters<typeof prepareFrames>[1], channels: number, maxSeconds: number, onIncomplete: (decoded: number, expected: number) => void): Promise<Clip> {
      // a colour model reads a colour ROI
      const r = await roiFromVideo(file, { fps: MODEL_FPS, faceDetector: detector, gray: inputPlanes(channels).image === 1, maxSeconds, onIncomplete });
      seen.set(file, r.info);
      return prepareFrames(r.rois, pre, MODEL_FPS, channels);
    },
    annotate(file: string, out: string, label: string) {
      const info = seen.get(file);
      if (!info) throw new Error(`${file}: no landmarks to annotate with`);
      return annotateVideo(file, out, { landmarks: info.landmarks, boxes: info.boxes, label, fps: MODEL_FPS });
    },
  };
}
