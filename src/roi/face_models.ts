// The face-api models as the detector uses them, whoever loaded them: Node (backend.ts: the
// npm package's files on tfjs-wasm) or the browser (the page: face-api's ESM build, weights
// fetched from `eflip serve`). Types only, no Node imports.

/** Thrown when the face model packages are missing or cannot start. */
export class FaceModelError extends Error {
  override name = 'FaceModelError';
}

/** The slice of the face-api/tfjs surface we use (the package's own types pull in tfjs-core's). */
export interface FaceApi {
  tf: any;
  nets: {
    ssdMobilenetv1: any;
    tinyFaceDetector: any;
    faceLandmark68Net: any;
    faceLandmark68TinyNet: any;
  };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => unknown;
  TinyFaceDetectorOptions: new (o: { inputSize?: number; scoreThreshold?: number }) => unknown;
  /** a batch of input tensors for a net's runNet (the landmark nets' raw outputs) */
  NetInput: new (inputs: unknown[]) => unknown;
}

export type TfBackend = 'wasm' | 'cpu';

/** The 68-point landmark nets: 'full' (default) or 'tiny'; both read a 112×112 face crop. */
export type LandmarkKind = 'full' | 'tiny';

/** A landmark net run outside tfjs: a 112·112·3 RGB crop → (x, y) × 68 as fractions of its side. */
export interface LandmarkRunner {
  run(crop: Uint8Array): Promise<Float32Array>;
}

export interface FaceModels {
  api: FaceApi;
  backend: TfBackend;
  modelDir: string;
  /** Node: the landmark nets on onnxruntime (landmarks_onnx.ts; the same arithmetic as tfjs',
   *  ~5× faster), opened on first use; absent in the browser, where tfjs runs them */
  landmarkRunner?: (kind: LandmarkKind) => Promise<LandmarkRunner>;
}
