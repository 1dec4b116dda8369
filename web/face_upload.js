// Upload mode for arbitrary footage (the page's "find the face" box, like `eflip predict
// --face`): the same two passes as Node's roiFromVideo — track the main face over the video's
// 25 fps frames (src/roi/frames_roi.ts: track → fill gaps → smooth), then seek through it again
// and cut the aligned mouth ROIs (src/roi/mouth_roi.ts) — so memory holds one frame at a time.
import { FaceDetector } from 'eflip/roi';
import { landmarksRecord, track } from 'eflip/roi';
import { cutMouthRoisStream } from 'eflip/roi';
import { MODEL_FPS } from 'eflip/infer';
import { loadFaceModels } from './face_models.js';
import { videoFrames } from './frames.js';

/** Mouth ROIs (FrameStack) and landmarks of a loaded <video>; `gray` for grey models;
 *  `frameSource`: how the RGB frames were made (videoFrames' `how`). */
export async function roisOfVideo(video, name, gray, onProgress = () => {}) {
  const det = FaceDetector.withModels(await loadFaceModels());
  const o = { fps: MODEL_FPS, faceDetector: det, gray };
  let frameSource = '';
  const rgbFrames = async function* (pass) {
    for await (const f of videoFrames(video, { rgb: true })) {
      onProgress(pass, f.index, f.total);
      frameSource = f.how; // 'decoder yuv': ffmpeg's own rgb24 values; 'canvas': the browser's
      yield { data: f.data, width: f.width, height: f.height, channels: 3 };
    }
  };
  const info = landmarksRecord(
    await track(rgbFrames('finding the face'), o),
    o,
    name,
    '',
    MODEL_FPS,
  );
  const rois = await cutMouthRoisStream(
    rgbFrames('cutting the mouth region'),
    info.landmarks,
    MODEL_FPS,
    o,
  );
  return { rois, info, frameSource };
}
