// Synthetic LRW-format corpus (public entry point). Example:
//   await synthCorpus({ out: '/tmp/synth', words: ['ABOUT', 'WATER'], train: 20, val: 5, test: 5, seed: 1 });
export {
  synthCorpus,
  SynthError,
  synthTasks,
  writeSynthClip,
  transcriptText,
  DEFAULT_SPEAKERS,
  type SynthCorpusOptions,
  type SynthSummary,
  type SynthTask,
} from './corpus.js';
export { synthClip, type SynthClip, type SynthClipOptions } from './clip.js';
export { makeSpeaker, splitSpeakerIds, type Speaker } from './speaker.js';
export { pronounce, phonemesToVisemes, VISEMES, type MouthParams } from './visemes.js';
export { renderFrame, type Pose } from './render.js';
