// Worker for synthCorpus: renders and encodes one clip per message.
import { parentPort } from 'node:worker_threads';
import { writeSynthClip, type SynthTask } from './corpus.js';

parentPort!.on('message', async ({ id, task }: { id: number; task: SynthTask }) => {
  try {
    parentPort!.postMessage({ id, result: await writeSynthClip(task) });
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message ?? String(e) });
  }
});
