// Loads the face models that ship INSIDE the npm packages (never fetched at run time):
// @vladmandic/face-api 1.7.15 (SSD-MobileNetV1 + tiny face detector, 68-point iBUG landmark
// nets; weights in node_modules/@vladmandic/face-api/model) on tfjs 4.22's WebAssembly
// backend (the .wasm binaries live in node_modules/@tensorflow/tfjs-backend-wasm/dist).
// One process-wide instance; models load lazily, on first use.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import {
  FaceModelError,
  type FaceApi,
  type FaceModels,
  type LandmarkKind,
  type LandmarkRunner,
  type TfBackend,
} from './face_models.js';
import { installFastConcat } from './tf_concat.js';
import { envSwitch } from '../env_switch.js';
import { packageDir } from '../package_dir.js';

export { FaceModelError, type FaceApi, type FaceModels, type TfBackend } from './face_models.js';

const require = createRequire(import.meta.url);

let loading: Promise<FaceModels> | null = null;

function installedDir(name: string): string {
  try {
    return packageDir(name);
  } catch {
    throw new FaceModelError(
      `npm package ${name} is not installed (run npm ci in the eflip directory)`,
    );
  }
}

/** Directory holding the face-api weight files (manifest JSON + .bin shards). */
export function faceModelDir(): string {
  return path.join(installedDir('@vladmandic/face-api'), 'model');
}

async function load(backend: TfBackend): Promise<FaceModels> {
  const modelDir = faceModelDir();
  for (const f of [
    'ssd_mobilenetv1_model-weights_manifest.json',
    'face_landmark_68_model-weights_manifest.json',
    'tiny_face_detector_model-weights_manifest.json',
  ]) {
    if (!existsSync(path.join(modelDir, f)))
      throw new FaceModelError(`face model file missing: ${path.join(modelDir, f)}`);
  }
  // tfjs prints a banner about tfjs-node on import; it is harmless, keep stdout clean.
  const warn = console.warn;
  const log = console.log;
  let api: FaceApi;
  try {
    console.warn = () => {};
    console.log = () => {};
    api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  } finally {
    console.warn = warn;
    console.log = log;
  }
  const tf = api.tf;
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.join(installedDir('@tensorflow/tfjs-backend-wasm'), 'dist') + path.sep);
  }
  const ok = await tf.setBackend(backend);
  if (!ok) throw new FaceModelError(`tfjs backend '${backend}' failed to start`);
  await tf.ready();
  tf.enableProdMode();
  if (backend === 'wasm') installFastConcat(tf);
  await api.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await api.nets.tinyFaceDetector.loadFromDisk(modelDir);
  await api.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await api.nets.faceLandmark68TinyNet.loadFromDisk(modelDir);
  const runners = new Map<LandmarkKind, Promise<LandmarkRunner>>();
  const landmarkRunner = (kind: LandmarkKind) => {
    let r = runners.get(kind);
    if (!r) {
      r = import('./landmarks_onnx.js').then(({ OnnxLandmarkNet }) =>
        OnnxLandmarkNet.open(api, kind),
      );
      runners.set(kind, r);
    }
    return r;
  };
  return { api, backend, modelDir, landmarkRunner };
}

/** EFLIP_ROI_THREAD=0: no detector helper thread (a value other than 0 or 1 throws EnvSwitchError). */
export function roiThreadOff(): boolean {
  return envSwitch('EFLIP_ROI_THREAD', ['0', '1']) === '0';
}

/** The process-wide helper thread for the detectors (detector_thread.ts); null where there is none. */
export async function detectorThread(): Promise<
  import('./detector_thread.js').DetectorThread | null
> {
  return (await import('./detector_thread.js')).detectorThread();
}

/** The process-wide face models (loaded once). EFLIP_ROI_BACKEND=cpu selects pure-JS kernels. */
export function faceModels(
  backend: TfBackend = envSwitch('EFLIP_ROI_BACKEND', ['wasm', 'cpu']) ?? 'wasm',
): Promise<FaceModels> {
  if (!loading) {
    loading = load(backend).catch((e) => {
      loading = null;
      throw e instanceof FaceModelError
        ? e
        : new FaceModelError(`cannot start the face models: ${(e as Error).message}`);
    });
  }
  return loading;
}
