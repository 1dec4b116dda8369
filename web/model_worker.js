// The webcam's lipreading model off the main thread (a module Web Worker): the streaming reader
// (29-frame window, feature cache) over onnxruntime-web runs here while the page tracks the
// face in the next camera frame, so the two use both cores instead of taking turns. Messages
// are handled strictly in order (the feature cache needs every frame in sequence). A push may
// first repeat the previous frame (`repeat` slots of the 25 frames/s timeline that the camera
// gave no new frame for, web/slots.js): stored without evaluating their windows, whose answers
// nobody reads; `data` null is a push of repeats only (the new frame had no face).
import { loadLipReader, StreamingLipReader, MODEL_FPS } from 'eflip/infer';
import { answerInOrder } from './worker_answers.js';

let reader = null;
let stream = null;
let held = null; // the last frame pushed, for repeats

async function handle(m) {
  switch (m.type) {
    case 'open': {
      await reader?.dispose();
      reader = await loadLipReader(m.source, m.options);
      stream = new StreamingLipReader(reader, { window: 29, fps: MODEL_FPS, topK: m.topK ?? 5 });
      held = null;
      return { type: 'opened', device: reader.device };
    }
    case 'push': {
      const t0 = performance.now();
      const n = held ? (m.repeat ?? 0) : 0;
      let step = null;
      for (let i = 0; i < n; i++)
        step = await stream.push(held, { evaluate: i === n - 1 && !m.data });
      if (m.data) {
        step = await stream.push(m.data);
        held = m.data;
      }
      return {
        type: 'step',
        seq: m.seq,
        ms: performance.now() - t0,
        seen: stream.framesSeen,
        top: (step?.top ?? []).map((e) => ({ label: e.label, probability: e.probability })),
      };
    }
    case 'close':
      await reader?.dispose();
      reader = stream = held = null;
      return { type: 'closed' };
    default:
      throw new Error(`unknown message ${m.type}`);
  }
}

answerInOrder(handle);
