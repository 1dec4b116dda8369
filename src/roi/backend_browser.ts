// Stands in for ./backend.ts (Node: face models from the npm package's files) in browser
// bundles: package.json's "browser" field maps dist/src/roi/backend.js here for a user's
// bundler, and scripts/web_build.mjs does the same for eflip's own web app. In the browser the
// page loads its face models itself (web/face_models.js) and uses FaceDetector.withModels.
import type { FaceModels } from './face_models.js';

export function faceModels(): Promise<FaceModels> {
  throw new Error(
    'FaceDetector.create() is Node-only; in the browser use FaceDetector.withModels(await loadFaceModels())',
  );
}
export function faceModelDir(): string {
  throw new Error('no face model directory in the browser');
}
/** No helper thread in the browser (the page runs its detector in its own worker). */
export async function detectorThread(): Promise<null> {
  return null;
}
/** No helper thread in the browser: EFLIP_ROI_THREAD is a Node switch. */
export function roiThreadOff(): boolean {
  return true;
}
