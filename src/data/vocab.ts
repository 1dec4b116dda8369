// Vocabulary selection → the explicit label list (index = class id) that travels with every
// checkpoint. Sorted order is LRW's standard class order.
import { promises as fsp } from 'node:fs';
import { Rng } from './rng.js';
import { writeFileAtomic } from '../io/atomic.js';

export type VocabSelection =
  | { kind: 'all' }
  | { kind: 'first'; n: number }
  | { kind: 'random'; n: number; seed: number }
  | { kind: 'list'; words: string[] };

export class VocabError extends Error {
  override name = 'VocabError';
}

/**
 * Parse a --words spec: `all`, `N` (first N sorted), `random:N[:SEED]`, `A,B,C`, or
 * `@FILE` / a path to a file with one word per line.
 */
export async function parseWordsSpec(spec: string | string[] | undefined): Promise<VocabSelection> {
  if (spec === undefined) return { kind: 'all' };
  const s = Array.isArray(spec) ? spec.join(',') : spec.trim();
  if (s === '' || s === 'all') return { kind: 'all' };
  if (/^\d+$/.test(s)) return { kind: 'first', n: Number(s) };
  const r = /^random:(\d+)(?::(-?\d+))?$/.exec(s);
  if (r) return { kind: 'random', n: Number(r[1]), seed: Number(r[2] ?? 0) };
  if (s.startsWith('@') || s.includes('/') || s.endsWith('.txt')) {
    const file = s.startsWith('@') ? s.slice(1) : s;
    const text = await fsp.readFile(file, 'utf8').catch(() => { throw new VocabError(`cannot read word list file '${file}'`); });
    return { kind: 'list', words: readLabelText(text) };
  }
  return { kind: 'list', words: s.split(',').map((w) => w.trim()).filter(Boolean) };
}

/** Apply a selection to the available words; returns the label list (class order). */
export function selectVocabulary(available: readonly string[], sel: VocabSelection): string[] {
  const sorted = [...new Set(available)].sort();
  switch (sel.kind) {
    case 'all':
      return sorted;
    case 'first':
      if (sel.n < 1 || sel.n > sorted.length) throw new VocabError(`asked for the first ${sel.n} words, ${sorted.length} available`);
      return sorted.slice(0, sel.n);
    case 'random': {
      if (sel.n < 1 || sel.n > sorted.length) throw new VocabError(`asked for ${sel.n} random words, ${sorted.length} available`);
      const pick = new Rng(sel.seed).shuffle([...sorted]).slice(0, sel.n) as string[];
      return pick.sort();
    }
    case 'list': {
      const seen = new Set<string>();
      for (const w of sel.words) {
        if (seen.has(w)) throw new VocabError(`word '${w}' listed twice`);
        seen.add(w);
      }
      const missing = sel.words.filter((w) => !sorted.includes(w));
      if (missing.length) throw new VocabError(`unknown words: ${missing.slice(0, 10).join(', ')}`);
      return [...sel.words]; // explicit lists keep their order: index = class id
    }
  }
}

/** One word per line; blank lines and `#` comments ignored. */
export function readLabelText(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

export async function saveLabels(file: string, labels: readonly string[]): Promise<void> {
  writeFileAtomic(file, labels.join('\n') + '\n');
}

export async function loadLabels(file: string): Promise<string[]> {
  return readLabelText(await fsp.readFile(file, 'utf8'));
}
