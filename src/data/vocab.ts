// Vocabulary selection → the explicit label list (index = class id) that travels with every
// checkpoint. Sorted order is LRW's standard class order.
import { promises as fsp, existsSync, readFileSync, statSync } from 'node:fs';
import { Rng } from './rng.js';
import { writeFileAtomic } from '../io/atomic.js';

export type VocabSelection =
  | { kind: 'all' }
  | { kind: 'first'; n: number }
  | { kind: 'random'; n: number; seed: number }
  | { kind: 'list'; words: string[]; /** where the list came from, for messages */ where?: string };

export class VocabError extends Error {
  override name = 'VocabError';
}

/** Longest word-list file read (500 LRW words are 3.5 KB). */
const MAX_WORD_FILE_BYTES = 1 << 20;

/**
 * The file a word spec names, or null: `@FILE`, a path (with a '/' or ending in .txt), or the
 * name of an existing regular file. One rule for --words and train's data.words_list.
 */
export function wordFileOf(spec: string): string | null {
  const s = spec.trim();
  if (s.startsWith('@')) return s.slice(1);
  if (s.includes('/') || s.endsWith('.txt')) return s;
  return existsSync(s) && statSync(s).isFile() ? s : null;
}

/** The words of a word-list file (one per line; blank lines and # comments ignored). */
export function readWordFile(file: string): string[] {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new VocabError(
      `cannot read word list file '${file}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  if (!st.isFile()) throw new VocabError(`word list '${file}' is not a file`);
  if (st.size > MAX_WORD_FILE_BYTES)
    throw new VocabError(
      `word list file '${file}' is ${st.size} bytes; a word list is one word per line (at most ${MAX_WORD_FILE_BYTES} bytes)`,
    );
  const buf = readFileSync(file);
  if (buf.includes(0))
    throw new VocabError(`word list file '${file}' is binary, not one word per line`);
  const words = readLabelText(buf.toString('utf8'));
  if (!words.length) throw new VocabError(`word list file '${file}' holds no words`);
  return words;
}

/**
 * Parse a --words spec: `all`, `N` (first N sorted), `random:N[:SEED]`, `A,B,C`, or a word
 * file (see wordFileOf).
 */
export async function parseWordsSpec(spec: string | string[] | undefined): Promise<VocabSelection> {
  if (spec === undefined) return { kind: 'all' };
  const s = Array.isArray(spec) ? spec.join(',') : spec.trim();
  if (s === '' || s === 'all') return { kind: 'all' };
  if (/^\d+$/.test(s)) return { kind: 'first', n: Number(s) };
  const r = /^random:(\d+)(?::(-?\d+))?$/.exec(s);
  if (r) return { kind: 'random', n: Number(r[1]), seed: Number(r[2] ?? 0) };
  const file = wordFileOf(s);
  if (file !== null) return { kind: 'list', words: readWordFile(file), where: `word list ${file}` };
  return {
    kind: 'list',
    words: s
      .split(',')
      .map((w) => w.trim())
      .filter(Boolean),
    where: '--words',
  };
}

/** The one check of every word/label list (init, import, prepare, train's data.words_list, labels.txt):
 *  null, or the message naming the words listed more than once (a repeated word is a class that never gets data). */
export function repeatedWordsProblem(words: readonly string[], where: string): string | null {
  const seen = new Set<string>(),
    twice = new Set<string>();
  for (const w of words) (seen.has(w) ? twice : seen).add(w);
  if (!twice.size) return null;
  const rep = [...twice];
  return `${where} lists ${rep.slice(0, 10).join(', ')}${rep.length > 10 ? ` (+${rep.length - 10} more)` : ''} more than once (a repeated word is a class that never gets data)`;
}

export function checkUniqueWords(words: readonly string[], where: string): void {
  const problem = repeatedWordsProblem(words, where);
  if (problem) throw new VocabError(problem);
}

/** Apply a selection to the available words; returns the label list (class order). */
export function selectVocabulary(
  available: readonly string[],
  sel: VocabSelection,
  dataName = 'the data',
): string[] {
  const sorted = [...new Set(available)].sort();
  switch (sel.kind) {
    case 'all':
      return sorted;
    case 'first':
      if (sel.n < 1 || sel.n > sorted.length)
        throw new VocabError(`asked for the first ${sel.n} words, ${sorted.length} available`);
      return sorted.slice(0, sel.n);
    case 'random': {
      if (sel.n < 1 || sel.n > sorted.length)
        throw new VocabError(`asked for ${sel.n} random words, ${sorted.length} available`);
      const pick = new Rng(sel.seed).shuffle([...sorted]).slice(0, sel.n) as string[];
      return pick.sort();
    }
    case 'list': {
      checkUniqueWords(sel.words, sel.where ?? 'the word list');
      const have = new Set(sorted);
      const missing = sel.words.filter((w) => !have.has(w));
      if (missing.length)
        throw new VocabError(
          `${sel.where ?? 'the word list'}: ${missing.length} word(s) not in ${dataName}: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` (+${missing.length - 10} more)` : ''}`,
        );
      return [...sel.words]; // explicit lists keep their order: index = class id
    }
  }
}

/** One word per line; blank lines and `#` comments ignored. */
export function readLabelText(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

export async function saveLabels(file: string, labels: readonly string[]): Promise<void> {
  writeFileAtomic(file, labels.join('\n') + '\n');
}

export async function loadLabels(file: string): Promise<string[]> {
  return readLabelText(await fsp.readFile(file, 'utf8'));
}
