// Arbitrary footage → model clips through the face pipeline (src/roi): track the main face,
// cut its aligned 96×96 mouth ROI, then the model's crop rule and normalisation. Keeps the
// landmarks of each file for an annotated video. Used by `eflip predict --face` and lipreader({ face: true }).
import { inputPlanes, MODEL_FPS, prepareFrames } from './preprocess.js';
import type { Clip, Preprocessing } from './types.js';

export type FaceClipReader = Awaited<ReturnType<typeof faceClipReader>>;

export interface FaceClipOptions {
  /** keep each file's landmarks for annotate() (`eflip predict --annotate`); off, a long-lived
   *  reader holds nothing per file */
  keepLandmarks?: boolean;
  /** use the per-user landmark cache (default true; the server passes false: it writes nothing
   *  outside its own temporary directory) */
  cache?: boolean;
}

/** Loads the face models (tfjs + face-api, loaded only here) once; then one call per video. */
export async function faceClipReader(o: FaceClipOptions = {}) {
  const { FaceDetector, roiFromVideo, annotateVideo } = await import('../roi/index.js');
  const detector = await FaceDetector.create();
  const seen = new Map<string, Awaited<ReturnType<typeof roiFromVideo>>['info']>();
  return {
    async load(
      file: string,
      pre: Preprocessing,
      channels: number,
      maxSeconds: number,
      onIncomplete: (decoded: number, expected: number) => void,
    ): Promise<Clip> {
      // a colour model reads a colour ROI
      const r = await roiFromVideo(file, {
        fps: MODEL_FPS,
        faceDetector: detector,
        gray: inputPlanes(channels).image === 1,
        maxSeconds,
        onIncomplete,
        cache: o.cache,
      });
      if (o.keepLandmarks) seen.set(file, r.info);
      return prepareFrames(r.rois, pre, MODEL_FPS, channels);
    },
    annotate(file: string, out: string, label: string) {
      const info = seen.get(file);
      if (!info)
        throw new Error(
          `${file}: no landmarks to annotate with (faceClipReader({ keepLandmarks: true }) keeps them)`,
        );
      return annotateVideo(file, out, {
        landmarks: info.landmarks,
        boxes: info.boxes,
        label,
        fps: MODEL_FPS,
      });
    },
  };
}
