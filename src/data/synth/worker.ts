// Worker for synthCorpus: renders and encodes one clip per message.
import { answerTasks } from '../pool.js';
import { writeSynthClip, type SynthTask } from './corpus.js';

answerTasks((task: SynthTask) => writeSynthClip(task));
