// A small typed option parser shared by every `eflip` command. Each command declares its
// options once; `--help` text is generated from the same table so help and parsing agree.
import { threadCountProblem } from '../threads.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** 'threads': a thread/worker/job count, an integer in [1, maxThreads()] (src/threads.ts) */
export type OptType = 'string' | 'number' | 'int' | 'threads' | 'boolean' | 'list';
export interface OptSpec {
  type: OptType;
  help: string;
  default?: string | number | boolean | string[];
  alias?: string;
  /** allowed values (string options) */
  choices?: string[];
  /** smallest allowed value (number/int options, inclusive) */
  min?: number;
  /** largest allowed value (number/int options, inclusive) */
  max?: number;
}
export interface CommandDef {
  name: string;
  usage: string;
  description: string;
  options: Record<string, OptSpec>;
  /** accept `key=value` config overrides (returned in `overrides`) */
  overrides?: boolean;
  examples?: string[];
}
export interface Parsed {
  opts: Record<string, any>;
  positionals: string[];
  overrides: string[];
  help: boolean;
}

export function helpText(def: CommandDef): string {
  const rows = Object.entries(def.options).map(([k, o]) => {
    const flag = `--${k}${o.alias ? `, -${o.alias}` : ''}${o.type === 'boolean' ? '' : ` <${o.choices ? o.choices.join('|') : o.type === 'threads' ? 'n' : o.type}>`}`;
    const dflt =
      o.default !== undefined && o.default !== false
        ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : o.default})`
        : '';
    return [flag, `${o.help}${dflt}`];
  });
  rows.push(['--help, -h', 'show this help']);
  const w = Math.min(34, Math.max(...rows.map((r) => r[0].length)));
  const lines = [`Usage: eflip ${def.usage}`, '', def.description, '', 'Options:'];
  for (const [f, h] of rows) lines.push(`  ${f.padEnd(w)}  ${h}`);
  if (def.overrides)
    lines.push(
      '',
      'Config overrides: key=value (nested keys with dots, e.g. optim.lr=3e-4); unknown keys are rejected.',
    );
  if (def.examples?.length) lines.push('', 'Examples:', ...def.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** The declared bounds of a numeric option (one rule for every command). */
function inRange(name: string, spec: OptSpec, v: number): number {
  const lo = spec.min ?? -Infinity,
    hi = spec.max ?? Infinity;
  if (v < lo || v > hi) {
    const range =
      spec.max === undefined
        ? `≥ ${lo}`
        : spec.min === undefined
          ? `≤ ${hi}`
          : `between ${lo} and ${hi}`;
    throw new UsageError(`--${name} must be ${range}, got ${v}`);
  }
  return v;
}

function convert(name: string, spec: OptSpec, raw: string): unknown {
  switch (spec.type) {
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v))
        throw new UsageError(`--${name} expects a number, got '${raw}'`);
      return inRange(name, spec, v);
    }
    case 'int': {
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isSafeInteger(v))
        throw new UsageError(
          `--${name} expects an integer${Number.isInteger(v) ? ' below 2^53' : ''}, got '${raw}'`,
        );
      return inRange(name, spec, v);
    }
    case 'threads': {
      const v = Number(raw);
      const problem = threadCountProblem(`--${name}`, raw.trim() === '' ? NaN : v);
      if (problem) throw new UsageError(problem);
      return v;
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
      }
      return raw;
    default:
      return raw;
  }
}

export function parseArgs(def: CommandDef, argv: string[]): Parsed {
  const opts: Record<string, any> = {};
  for (const [k, o] of Object.entries(def.options))
    if (o.default !== undefined) opts[k] = o.default;
  const byAlias = new Map(
    Object.entries(def.options)
      .filter(([, o]) => o.alias)
      .map(([k, o]) => [o.alias!, k]),
  );
  const positionals: string[] = [];
  const overrides: string[] = [];
  let help = false;
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      let key = a.startsWith('--') ? a.slice(2) : (byAlias.get(a.slice(1)) ?? a.slice(1));
      let inline: string | undefined;
      const eq = key.indexOf('=');
      if (eq >= 0) {
        inline = key.slice(eq + 1);
        key = key.slice(0, eq);
      }
      const spec = def.options[key];
      if (!spec && key.startsWith('no-') && def.options[key.slice(3)]?.type === 'boolean') {
        opts[key.slice(3)] = false;
        continue;
      }
      if (!spec)
        throw new UsageError(
          `unknown option ${a}${/[./]/.test(a) ? ` (a file named '${a}'? give it as ./${a} or after --)` : ''}`,
        );
      if (spec.type === 'boolean') {
        opts[key] = inline === undefined ? true : !['false', '0', 'no'].includes(inline);
        continue;
      }
      const raw = inline ?? argv[++i];
      if (raw === undefined) throw new UsageError(`option --${key} needs a value`);
      // a repeated list option adds to the list given before it (--model a --model b)
      opts[key] =
        spec.type === 'list' && given.has(key)
          ? [...opts[key], ...(convert(key, spec, raw) as string[])]
          : convert(key, spec, raw);
      given.add(key);
      continue;
    }
    if (def.overrides && /^[A-Za-z_][\w.]*=/.test(a)) {
      overrides.push(a);
      continue;
    }
    positionals.push(a);
  }
  return { opts, positionals, overrides, help };
}

/** Parse, print help when asked (returns null then), otherwise the parsed arguments. */
export function parseOrHelp(def: CommandDef, argv: string[]): Parsed | null {
  const p = parseArgs(def, argv);
  if (p.help) {
    console.log(helpText(def));
    return null;
  }
  return p;
}
