// Public API of eflip's data side ('eflip/data'): LRW index and vocabulary, ffmpeg video I/O,
// crops, shards and `prepare`, the augmenting loader, and the synthetic corpus. No engine
// dependency: batches are plain typed arrays.
export {
  decodeVideo,
  probeVideo,
  VideoError,
  type DecodedVideo,
  type DecodeOptions,
  type VideoInfo,
} from './video.js';
export {
  encodeVideo,
  writeFrames,
  type EncodeOptions,
  type FrameWriter,
  type WriterOptions,
} from './video_writer.js';
export { readFrames, type FrameReader, type ReadOptions } from './video_stream.js';
export { epochSteps } from './batch.js';
export { decodeVideos, type DecodeOutcome } from './video_batch.js';
export {
  centreCrop,
  lrwMouthCrop,
  landmarkMouthCrop,
  toGray,
  cropWindow,
  CropError,
  LRW_MOUTH_WINDOW,
  type Frames,
  type Landmarks,
} from './crop.js';
export {
  indexLrw,
  parseDuration,
  LrwError,
  SPLITS,
  type Split,
  type LrwClip,
  type LrwIndex,
} from './lrw.js';
export {
  parseWordsSpec,
  selectVocabulary,
  saveLabels,
  loadLabels,
  VocabError,
  type VocabSelection,
} from './vocab.js';
export { LRW_WORDS } from './lrw_words.js';
export {
  prepare,
  PrepareError,
  type PrepareOptions,
  type PrepareSummary,
  type CropMode,
} from './prepare.js';
export { writeShard, readShardHeader, ShardReader, ShardError } from './shard.js';
export { Loader, type LoaderOptions, type LoaderState, type Batch } from './loader.js';
export { TRAIN_AUGMENT, EVAL_AUGMENT, resolveAugment, type AugmentConfig } from './augment.js';
export { synthCorpus, type SynthCorpusOptions } from './synth/index.js';
