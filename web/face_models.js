// The face-api models in the browser: face-api's ESM build (tfjs inside; the wasm backend as in
// Node, else WebGL, else tfjs' CPU kernels), weights fetched from `eflip serve`'s /face-models/ (the npm package's own
// files; nothing comes from the internet). The result feeds FaceDetector.withModels, so the
// browser runs the same detector, tracker, gap filling, smoothing and ROI cut as Node.
import * as faceapi from '@vladmandic/face-api/dist/face-api.esm.js';

let loading = null;

// face-api knows a page (DOM) and Node; in a Web Worker (web/detector_worker.js) it is given
// this environment — OffscreenCanvas for its canvases; it never sees an image or video element
// there, since eflip hands it tensors of RGB frames
function workerEnv() {
  class NoElement {}
  const none = (what) => () => {
    throw new Error(`no ${what} elements in a Web Worker`);
  };
  return {
    Canvas: OffscreenCanvas,
    CanvasRenderingContext2D: OffscreenCanvasRenderingContext2D,
    Image: NoElement,
    ImageData,
    Video: NoElement,
    createCanvasElement: () => new OffscreenCanvas(1, 1),
    createImageElement: none('image'),
    createVideoElement: none('video'),
    fetch: (...a) => fetch(...a),
    readFile: none('file'),
  };
}

/** The tfjs backend of loaded face models in a line: 'wasm, 1 thread', 'webgl'. */
export function backendLabel({ backend, threads }) {
  return threads ? `${backend}, ${threads} thread${threads > 1 ? 's' : ''}` : backend;
}

/** `wasmBase`: where tfjs-backend-wasm's .wasm files are served (`eflip serve`: /tfjs-wasm/). */
export function loadFaceModels(
  base = '/face-models/',
  backends = ['wasm', 'webgl', 'cpu'],
  wasmBase = '/tfjs-wasm/',
) {
  loading ??= (async () => {
    const tf = faceapi.tf;
    if (typeof document === 'undefined' && typeof OffscreenCanvas !== 'undefined')
      faceapi.env.setEnv(workerEnv());
    let backend = null;
    const failed = [];
    for (const b of backends) {
      try {
        if (b === 'wasm') tf.setWasmPaths(wasmBase);
        if (await tf.setBackend(b)) {
          backend = b;
          break;
        }
      } catch (e) {
        failed.push(`${b}: ${e.message ?? e}`);
        continue;
      }
      failed.push(`${b}: did not start`);
    }
    if (!backend) throw new Error(`no tfjs backend starts here (tried ${backends.join(', ')})`);
    await tf.ready();
    tf.enableProdMode();
    await Promise.all([
      faceapi.nets.ssdMobilenetv1.loadFromUri(base),
      faceapi.nets.tinyFaceDetector.loadFromUri(base),
      faceapi.nets.faceLandmark68Net.loadFromUri(base),
      faceapi.nets.faceLandmark68TinyNet.loadFromUri(base),
    ]);
    // tfjs-wasm picks its SIMD + threads build when the page is cross-origin isolated
    const threads = backend === 'wasm' ? (tf.getThreadsCount?.() ?? 1) : 0;
    return { api: faceapi, backend, threads, modelDir: base, failed };
  })().catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}
