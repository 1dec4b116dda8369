// Where the bundled demo assets live (assets/ at the package root): the demo model on the fixed
// LRW mouth window (assets/demo, `eflip demo`), the ROI demo model on the landmark mouth ROI
// (assets/demo-roi: arbitrary footage through the face pipeline, the web app's webcam) and the
// sample clips (assets/samples). Made by src/train/demo_model.ts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ASSETS = fileURLToPath(new URL('../../assets/', import.meta.url));

export const DEMO_DIR = join(ASSETS, 'demo');
export const ROI_DEMO_DIR = join(ASSETS, 'demo-roi');
export const DEMO_MODEL = join(DEMO_DIR, 'model.safetensors');
export const ROI_DEMO_MODEL = join(ROI_DEMO_DIR, 'model.safetensors');
export const SAMPLES_DIR = join(ASSETS, 'samples');
