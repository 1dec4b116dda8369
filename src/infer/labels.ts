// Default labels for checkpoints that do not carry theirs: the sorted 500 LRW words.
import { LRW_WORDS } from '../data/lrw_words.js';

export function LRW_WORDS_DEFAULT(): string[] {
  return [...LRW_WORDS];
}
