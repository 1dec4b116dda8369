// The 500 LRW words in sorted order: the standard class order (docs/design.md "Data"). One list for
// the whole project lives beside the reference implementation's seed-42 order in src/model.
export { LRW_WORDS } from '../model/lrw_words.js';
