// A helper thread for the face detectors (Node, two cores or more): a worker_threads worker
// with its own tfjs-wasm backend and face models (backend.ts) runs the full detections and
// the crop verifications, while the main thread runs the landmark net — tfjs-wasm is
// single-threaded in Node, and tracking (track.ts) is a chain of landmark-net calls, each
// window from the previous frame's landmarks. track.ts starts the next scheduled detection a
// few frames ahead and each verification beside the landmark net of its frame; the results
// are the ones the main thread would compute (the same kernels on the same pixels).
// One thread per process (detectorThread()), started once a detector has tracked THREAD_AFTER
// frames (or by FaceDetector.startThread()); until its models are loaded, and for good when
// it cannot start or fails, the detector runs everything on the main thread.
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { answerTasks, TaskWorker } from '../data/pool.js';
import { roiThreadOff } from './backend.js';
import { type DetectorHelper, type DetectorKind, type RawBox, FaceDetector } from './detector.js';
import type { Frame } from './image.js';

type Task =
  | { op: 'ready' }
  | { op: 'detect'; frame: Frame; kind: DetectorKind; inputSize: number; minScore: number }
  | { op: 'hasFace'; frame: Frame; minScore: number };

/** The main thread's handle on the helper thread. */
export class DetectorThread implements DetectorHelper {
  private readonly worker = new TaskWorker<Task>(new URL(import.meta.url), 'the detector thread');
  private loaded = false;

  constructor() {
    this.started = this.call<boolean>({ op: 'ready' }).then(
      () => (this.loaded = !this.worker.dead),
      () => false,
    );
  }

  /** true once the thread's models are loaded (before that, and after a failure: run locally) */
  get ready(): boolean {
    return this.loaded && !this.worker.dead;
  }

  /** Resolves when the thread's models are loaded: true, or false when it could not start. */
  readonly started: Promise<boolean>;

  private call<T>(task: Task, transfer: ArrayBuffer[] = []): Promise<T> {
    return this.worker.call<T>(task, transfer);
  }

  /** FaceDetector.detectIn on the thread (the frame's pixels are copied, never moved). */
  detect(frame: Frame, kind: DetectorKind, inputSize: number, minScore: number): Promise<RawBox[]> {
    const f = ownCopy(frame);
    return this.call({ op: 'detect', frame: f, kind, inputSize, minScore }, [
      f.data.buffer as ArrayBuffer,
    ]);
  }

  /** FaceDetector.hasFaceIn on the thread. */
  hasFace(crop: Frame, minScore: number): Promise<boolean> {
    const f = ownCopy(crop);
    return this.call({ op: 'hasFace', frame: f, minScore }, [f.data.buffer as ArrayBuffer]);
  }
}

function ownCopy(f: Frame): Frame {
  return { data: f.data.slice(), width: f.width, height: f.height, channels: f.channels };
}

let thread: DetectorThread | null | undefined;

/**
 * The process-wide helper thread, started on first use; null on a single core or with
 * EFLIP_ROI_THREAD=0 (everything on the main thread, as in the browser).
 */
export function detectorThread(): DetectorThread | null {
  if (thread === undefined)
    thread = availableParallelism() >= 2 && !roiThreadOff() ? new DetectorThread() : null;
  return thread;
}

// the worker side: one main-thread-only FaceDetector per detector kind
if (!isMainThread) {
  const detectors = new Map<DetectorKind, Promise<FaceDetector>>();
  const get = (kind: DetectorKind) => {
    if (!detectors.has(kind))
      detectors.set(kind, FaceDetector.create({ detector: kind, thread: false }));
    return detectors.get(kind)!;
  };
  answerTasks<Task, unknown>(async (task) => {
    if (task.op === 'ready') return !!(await get('auto'));
    if (task.op === 'detect')
      return (await get(task.kind)).detectIn(task.frame, task.inputSize, task.minScore);
    return (await get('auto')).hasFaceIn(task.frame, task.minScore);
  });
}
