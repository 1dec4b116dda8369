// The face-api models in the browser: face-api's ESM build (tfjs inside; WebGL backend, else
// tfjs' CPU kernels), weights fetched from `eflip serve`'s /face-models/ (the npm package's own
// files; nothing comes from the internet). The result feeds FaceDetector.withModels, so the
// browser runs the same detector, tracker, gap filling, smoothing and ROI cut as Node.
import * as faceapi from '@vladmandic/face-api/dist/face-api.esm.js';

let loading = null;

export function loadFaceModels(base = '/face-models/', backends = ['webgl', 'cpu']) {
  loading ??= (async () => {
    const tf = faceapi.tf;
    let backend = null;
    for (const b of backends) {
      try {
        if (await tf.setBackend(b)) { backend = b; break; }
      } catch { /* next */ }
    }
    if (!backend) throw new Error(`no tfjs backend starts here (tried ${backends.join(', ')})`);
    await tf.ready();
    tf.enableProdMode();
    await Promise.all([faceapi.nets.ssdMobilenetv1.loadFromUri(base), faceapi.nets.tinyFaceDetector.loadFromUri(base), faceapi.nets.faceLandmark68Net.loadFromUri(base), faceapi.nets.faceLandmark68TinyNet.loadFromUri(base)]);
    return { api: faceapi, backend, modelDir: base };
  })().catch((e) => { loading = null; throw e; });
  return loading;
}
