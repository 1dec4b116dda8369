// Class-name lists for model files: the sorted LRW words (eflip's order), the reference
// implementation's seeded order ("seed42"), or a file with one name per line.
import { readFileSync } from 'node:fs';
import { LRW_WORDS, LRW_WORDS_SEED42 } from './lrw_words.js';
import { repeatedWordsProblem } from '../data/vocab.js';

export class LabelsError extends Error {
  override name = 'LabelsError';
}

/** 'lrw' | 'sorted' → sorted LRW words; 'seed42' → reference order; otherwise a path (one label per line). */
export function resolveLabels(spec: string, classes: number): string[] {
  let labels: string[];
  if (spec === 'lrw' || spec === 'sorted') labels = LRW_WORDS.slice(0, classes);
  else if (spec === 'seed42')
    labels = LRW_WORDS_SEED42.slice(0, classes); // the reference trains on the first N words of its order
  else {
    let text: string;
    try {
      text = readFileSync(spec, 'utf8');
    } catch (e) {
      throw new LabelsError(`cannot read labels file ${spec}: ${(e as Error).message}`);
    }
    labels = text
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean);
  }
  if (labels.length !== classes)
    throw new LabelsError(`labels '${spec}' give ${labels.length} names for ${classes} classes`);
  const repeated = repeatedWordsProblem(labels, `labels '${spec}'`);
  if (repeated) throw new LabelsError(repeated);
  return labels;
}
