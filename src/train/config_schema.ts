// A tiny declarative schema for nested configs: every leaf declares its type, default and
// help once; YAML files and `key=value` overrides are validated against the same table, so
// an unknown key or a wrong type is rejected with a message naming the dotted key.

export type LeafKind = 'int' | 'number' | 'string' | 'boolean' | 'strings' | 'numbers';
export type LeafValue = number | string | boolean | string[] | number[] | null;

export interface Leaf {
  kind: LeafKind;
  default: LeafValue;
  help: string;
  nullable?: boolean;
  choices?: string[];
  min?: number;
  max?: number;
  /** exact list length for 'numbers' (e.g. betas) */
  length?: number;
  /** why `max` is what it is, named in the refusal */
  maxWhy?: string;
  /** exclusive upper bound (each value of a 'numbers' list too) */
  below?: number;
}
export interface Section {
  [key: string]: Leaf | Section;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function isLeaf(x: Leaf | Section): x is Leaf {
  return (
    typeof (x as Leaf).kind === 'string' && 'default' in x && typeof (x as Leaf).help === 'string'
  );
}

/** Every dotted leaf path of a schema, in declaration order. */
export function leafPaths(schema: Section, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(schema)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isLeaf(v)) out.push(p);
    else out.push(...leafPaths(v, p));
  }
  return out;
}

export function lookup(schema: Section, path: string): Leaf | Section | undefined {
  let node: Leaf | Section = schema;
  for (const part of path.split('.')) {
    if (isLeaf(node) || !Object.prototype.hasOwnProperty.call(node, part)) return undefined;
    node = (node as Section)[part];
  }
  return node;
}

/** The config tree holding every default. */
export function defaultsOf(schema: Section): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = isLeaf(v) ? structuredClone(v.default) : defaultsOf(v);
  }
  return out;
}

function describe(leaf: Leaf): string {
  const base = {
    int: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    strings: 'a list of strings',
    numbers: leaf.length ? `a list of ${leaf.length} numbers` : 'a list of numbers',
  }[leaf.kind];
  return leaf.choices
    ? `one of ${leaf.choices.join(', ')}`
    : base + (leaf.nullable ? ' (or null)' : '');
}

function show(v: unknown): string {
  if (typeof v === 'number') return String(v); // NaN and Infinity too (JSON would say null)
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

/** Check (and lightly coerce) a structured value (from YAML or JSON) for one leaf. */
export function checkValue(path: string, leaf: Leaf, v: unknown): LeafValue {
  const bad = () =>
    new ConfigError(`config key '${path}' expects ${describe(leaf)}, got ${show(v)}`);
  if (v === null || v === undefined) {
    if (leaf.nullable) return null;
    throw bad();
  }
  let out: LeafValue;
  switch (leaf.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw bad();
      if (!Number.isSafeInteger(v))
        throw new ConfigError(
          `config key '${path}' expects an integer below 2^53 in size, got ${show(v)}`,
        );
      out = v;
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad();
      out = v;
      break;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad();
      out = v;
      break;
    case 'string':
      if (typeof v !== 'string') throw bad();
      if (leaf.choices && !leaf.choices.includes(v)) throw bad();
      out = v;
      break;
    case 'strings':
      // one string is a one-item list (data.words_list: words.txt)
      if (typeof v === 'string') {
        out = [v];
        break;
      }
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad();
      out = [...v];
      break;
    case 'numbers':
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'number' && Number.isFinite(s)))
        throw bad();
      if (leaf.length !== undefined && v.length !== leaf.length) throw bad();
      for (const x of v)
        if (
          (leaf.min !== undefined && x < leaf.min) ||
          (leaf.below !== undefined && !(x < leaf.below))
        )
          throw new ConfigError(
            `config key '${path}' takes numbers in [${leaf.min ?? '-∞'}, ${leaf.below ?? '∞'}), got ${JSON.stringify(v)}`,
          );
      out = [...v];
      break;
  }
  if (typeof out === 'number') {
    if (leaf.below !== undefined && !(out < leaf.below))
      throw new ConfigError(`config key '${path}' must be < ${leaf.below}, got ${out}`);
    if (leaf.min !== undefined && out < leaf.min)
      throw new ConfigError(`config key '${path}' must be >= ${leaf.min}, got ${out}`);
    if (leaf.max !== undefined && out > leaf.max)
      throw new ConfigError(
        `config key '${path}' must be <= ${leaf.max}${leaf.maxWhy ? ` (${leaf.maxWhy})` : ''}, got ${out}`,
      );
  }
  return out;
}

/** Parse the text of a command-line `key=value` for one leaf. */
export function parseText(path: string, leaf: Leaf, raw: string): LeafValue {
  const s = raw.trim();
  const bad = () => new ConfigError(`config key '${path}' expects ${describe(leaf)}, got '${raw}'`);
  if (leaf.nullable && (s === 'null' || s === '~' || s === 'none' || s === 'None')) return null;
  const list = (): string[] => {
    const inner = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
    return inner
      .split(',')
      .map((x) => x.trim().replace(/^['"]|['"]$/g, ''))
      .filter((x) => x.length > 0);
  };
  switch (leaf.kind) {
    case 'int':
    case 'number': {
      const n = Number(s);
      if (s === '' || !Number.isFinite(n)) throw bad();
      return checkValue(path, leaf, n);
    }
    case 'boolean':
      if (['true', 'yes', 'on', '1'].includes(s.toLowerCase())) return true;
      if (['false', 'no', 'off', '0'].includes(s.toLowerCase())) return false;
      throw bad();
    case 'string':
      return checkValue(path, leaf, s);
    case 'strings':
      return list();
    case 'numbers': {
      const xs = list().map(Number);
      if (xs.some((x) => !Number.isFinite(x))) throw bad();
      return checkValue(path, leaf, xs);
    }
  }
}

/** Closest known key (for "did you mean" hints). */
export function closest(candidates: string[], key: string): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i][j] = Math.min(
          d[i - 1][j] + 1,
          d[i][j - 1] + 1,
          d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      }
    }
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const last = c.split('.').pop()!;
    const d = Math.min(dist(c, key), dist(last, key.split('.').pop()!) + 1);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}
