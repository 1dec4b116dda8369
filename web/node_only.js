// Stands in for src/roi/backend.ts (Node: face models from the npm package's files) in browser
// bundles (scripts/web_build.mjs): the page loads its own models (web/face_models.js).
export function faceModels() {
  throw new Error(
    'FaceDetector.create() is Node-only; in the browser use FaceDetector.withModels(await loadFaceModels())',
  );
}
export function faceModelDir() {
  throw new Error('no face model directory in the browser');
}
