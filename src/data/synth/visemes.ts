// Phonemes (ARPAbet, from the CMU pronouncing dictionary) → visual mouth targets (visemes).
// A viseme is a target for the mouth parameters below; phonemes that look the same on the
// lips share a viseme (p/b/m, f/v, ...), which is what keeps lookalike words alike.
export interface MouthParams {
  /** lip opening 0 (closed) .. 1 (wide open) */
  open: number;
  /** mouth width relative to rest: >1 spread, <1 narrowed */
  width: number;
  /** lip rounding/protrusion 0..1 */
  round: number;
  /** teeth visibility 0..1 */
  teeth: number;
  /** tongue visibility 0..1 */
  tongue: number;
  /** lower lip tucked under the upper teeth 0..1 (f/v) */
  tuck: number;
}
export const PARAM_KEYS: readonly (keyof MouthParams)[] = [
  'open',
  'width',
  'round',
  'teeth',
  'tongue',
  'tuck',
];

export interface Viseme {
  name: string;
  target: MouthParams;
  /** how strongly this target resists coarticulation (closures must close) */
  dominance: number;
  /** typical duration, seconds (before rate scaling) */
  duration: number;
}

const v = (
  name: string,
  open: number,
  width: number,
  round: number,
  teeth: number,
  tongue: number,
  tuck: number,
  dominance: number,
  duration: number,
): Viseme => ({
  name,
  target: { open, width, round, teeth, tongue, tuck },
  dominance,
  duration,
});

export const REST: MouthParams = { open: 0.03, width: 1, round: 0, teeth: 0, tongue: 0, tuck: 0 };

/** Viseme classes. */
export const VISEMES = {
  sil: v('sil', 0.03, 1.0, 0.0, 0.0, 0.0, 0, 1.0, 0.1),
  bilabial: v('p/b/m', 0.0, 0.97, 0.05, 0.0, 0.0, 0, 6.0, 0.075),
  labiodental: v('f/v', 0.1, 1.0, 0.0, 1.0, 0.0, 1, 4.0, 0.08),
  dental: v('th', 0.22, 1.02, 0.0, 0.7, 1.0, 0, 2.5, 0.08),
  alveolar: v('t/d/n', 0.26, 1.05, 0.0, 0.55, 0.35, 0, 1.2, 0.06),
  lateral: v('l', 0.34, 1.0, 0.0, 0.45, 0.85, 0, 1.5, 0.065),
  sibilant: v('s/z', 0.1, 1.14, 0.0, 1.0, 0.0, 0, 2.0, 0.085),
  postalveolar: v('sh/ch/jh', 0.22, 0.84, 0.6, 0.85, 0.0, 0, 2.0, 0.085),
  velar: v('k/g/ng/h', 0.36, 1.0, 0.0, 0.3, 0.1, 0, 0.6, 0.065),
  rhotic: v('r', 0.2, 0.85, 0.55, 0.3, 0.0, 0, 1.5, 0.065),
  glide_w: v('w', 0.08, 0.68, 1.0, 0.0, 0.0, 0, 3.0, 0.065),
  glide_y: v('y', 0.2, 1.12, 0.0, 0.55, 0.0, 0, 1.2, 0.055),
  AA: v('aa', 1.0, 1.0, 0.0, 0.25, 0.15, 0, 1.0, 0.13),
  AE: v('ae', 0.78, 1.14, 0.0, 0.6, 0.15, 0, 1.0, 0.13),
  AH: v('ah', 0.6, 1.0, 0.0, 0.3, 0.1, 0, 0.8, 0.09),
  AO: v('ao', 0.78, 0.84, 0.6, 0.2, 0.0, 0, 1.0, 0.13),
  EH: v('eh', 0.55, 1.1, 0.0, 0.55, 0.15, 0, 1.0, 0.1),
  ER: v('er', 0.32, 0.84, 0.5, 0.3, 0.0, 0, 1.0, 0.11),
  IH: v('ih', 0.36, 1.12, 0.0, 0.65, 0.1, 0, 1.0, 0.08),
  IY: v('iy', 0.24, 1.24, 0.0, 0.85, 0.05, 0, 1.2, 0.11),
  UH: v('uh', 0.34, 0.8, 0.7, 0.1, 0.0, 0, 1.0, 0.09),
  UW: v('uw', 0.18, 0.66, 1.0, 0.0, 0.0, 0, 1.5, 0.12),
  OW0: v('ow', 0.6, 0.82, 0.65, 0.1, 0.0, 0, 1.0, 0.08),
} as const satisfies Record<string, Viseme>;

/** ARPAbet phoneme (stress stripped) → viseme sequence (diphthongs are two targets). */
const PHONEME_VISEMES: Record<string, (keyof typeof VISEMES)[]> = {
  P: ['bilabial'],
  B: ['bilabial'],
  M: ['bilabial'],
  F: ['labiodental'],
  V: ['labiodental'],
  TH: ['dental'],
  DH: ['dental'],
  T: ['alveolar'],
  D: ['alveolar'],
  N: ['alveolar'],
  L: ['lateral'],
  S: ['sibilant'],
  Z: ['sibilant'],
  SH: ['postalveolar'],
  ZH: ['postalveolar'],
  CH: ['postalveolar'],
  JH: ['postalveolar'],
  K: ['velar'],
  G: ['velar'],
  NG: ['velar'],
  HH: ['velar'],
  R: ['rhotic'],
  W: ['glide_w'],
  Y: ['glide_y'],
  AA: ['AA'],
  AE: ['AE'],
  AH: ['AH'],
  AO: ['AO'],
  EH: ['EH'],
  ER: ['ER'],
  IH: ['IH'],
  IY: ['IY'],
  UH: ['UH'],
  UW: ['UW'],
  AW: ['AA', 'UW'],
  AY: ['AA', 'IY'],
  EY: ['EH', 'IY'],
  OW: ['OW0', 'UW'],
  OY: ['AO', 'IY'],
};

export interface TimedViseme {
  viseme: Viseme;
  /** relative length factor (stressed vowels are longer; diphthong halves shorter) */
  length: number;
  phoneme: string;
}

export class PronunciationError extends Error {
  override name = 'PronunciationError';
}

/** ARPAbet string ("AH0 B AW1 T") → timed visemes. */
export function phonemesToVisemes(arpabet: string): TimedViseme[] {
  const out: TimedViseme[] = [];
  for (const tok of arpabet.trim().split(/\s+/)) {
    const m = /^([A-Z]+)([012])?$/.exec(tok);
    if (!m || !PHONEME_VISEMES[m[1]])
      throw new PronunciationError(`unknown ARPAbet phoneme '${tok}'`);
    const stress = m[2] === '1' ? 1.35 : m[2] === '2' ? 1.1 : m[2] === '0' ? 0.75 : 1;
    const vs = PHONEME_VISEMES[m[1]];
    for (const name of vs)
      out.push({
        viseme: VISEMES[name],
        length: stress * (vs.length > 1 ? 0.75 : 1),
        phoneme: m[1],
      });
  }
  return out;
}

// A crude letter → phoneme fallback for words outside the dictionary (custom vocabularies).
const LETTERS: Record<string, string> = {
  A: 'AE1',
  B: 'B',
  C: 'K',
  D: 'D',
  E: 'EH1',
  F: 'F',
  G: 'G',
  H: 'HH',
  I: 'IH1',
  J: 'JH',
  K: 'K',
  L: 'L',
  M: 'M',
  N: 'N',
  O: 'AO1',
  P: 'P',
  Q: 'K',
  R: 'R',
  S: 'S',
  T: 'T',
  U: 'AH1',
  V: 'V',
  W: 'W',
  X: 'S',
  Y: 'Y',
  Z: 'Z',
};

let dict: Record<string, string> | null = null;

/** The word's pronunciation (first CMU dictionary entry), or a letter-based guess. */
export async function pronounce(
  word: string,
): Promise<{ arpabet: string; fromDictionary: boolean }> {
  if (!dict)
    dict = (await import('cmu-pronouncing-dictionary')).dictionary as Record<string, string>;
  const hit = dict[word.toLowerCase()];
  if (hit) return { arpabet: hit, fromDictionary: true };
  const letters = word.toUpperCase().replace(/[^A-Z]/g, '');
  if (!letters) throw new PronunciationError(`cannot pronounce '${word}'`);
  return { arpabet: [...letters].map((c) => LETTERS[c]).join(' '), fromDictionary: false };
}
