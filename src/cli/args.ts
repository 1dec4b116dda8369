// The option parser shared by every `eflip` command, on node:util's parseArgs. Each command
// declares its options once, in a const table (defineCommand); the same table types the parsed
// options (ParsedOptions), checks values and bounds, and generates `--help` and the README CLI
// reference (src/cli/reference.ts), so help, parsing and docs agree.
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { threadCountProblem } from '../threads.js';
import { closest } from '../train/config_schema.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** 'threads': a thread/worker/job count, an integer in [1, maxThreads()] (src/threads.ts) */
export type OptType = 'string' | 'number' | 'int' | 'threads' | 'boolean' | 'list';
export interface OptSpec {
  type: OptType;
  help: string;
  default?: string | number | boolean | readonly string[];
  /** one-letter short form: -k 5, -k5 */
  alias?: string;
  /** allowed values (string options; each item of a list option) */
  choices?: readonly string[];
  /** smallest allowed value (number/int options, inclusive) */
  min?: number;
  /** largest allowed value (number/int options, inclusive) */
  max?: number;
  /** list options: false takes each value whole (file paths, which may hold commas; repeat the
   *  option for several); default true: comma-separated items */
  commas?: boolean;
}
export type OptionTable = Record<string, OptSpec>;
export interface CommandDef<O extends OptionTable = OptionTable> {
  name: string;
  usage: string;
  description: string;
  options: O;
  /** accept `key=value` config overrides (returned in `overrides`) */
  overrides?: boolean;
  examples?: readonly string[];
}

/** The value type of one option: booleans, numbers, string lists, a choice's union, strings. */
type OptValue<S extends OptSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['type'] extends 'number' | 'int' | 'threads'
    ? number
    : S extends { choices: readonly (infer C extends string)[] }
      ? S['type'] extends 'list'
        ? C[]
        : C
      : S['type'] extends 'list'
        ? string[]
        : string;
/** The parsed options of a table: an option with a default (and every boolean: false when not
 *  given) is always there; any other is `undefined` when not given. */
export type ParsedOptions<O extends OptionTable> = {
  -readonly [K in keyof O]: O[K] extends { default: NonNullable<unknown> }
    ? OptValue<O[K]>
    : O[K]['type'] extends 'boolean'
      ? boolean
      : OptValue<O[K]> | undefined;
};
export interface Parsed<O extends OptionTable = OptionTable> {
  opts: ParsedOptions<O>;
  positionals: string[];
  overrides: string[];
  help: boolean;
}

/** A command definition whose option table keeps its literal types (for ParsedOptions). */
export function defineCommand<const O extends OptionTable>(def: CommandDef<O>): CommandDef<O> {
  return def;
}

/** Where `eflip predict`, `stream` and `demo` run the network. */
export const INFERENCE_OPTIONS = {
  runtime: {
    type: 'string',
    choices: ['onnx', 'torch'],
    default: 'onnx',
    help: 'inference runtime',
  },
  device: {
    type: 'string',
    choices: ['auto', 'cpu', 'cuda'],
    default: 'auto',
    help: 'device / execution provider',
  },
} as const satisfies OptionTable;

/** The options every bench kind (src/cli/bench/*.ts) shares. */
export const BENCH_OPTIONS = {
  json: { type: 'boolean', help: 'print one JSON object' },
} as const satisfies OptionTable;

export function helpText(def: CommandDef): string {
  const rows = Object.entries(def.options).map(([k, o]) => {
    const choices = o.choices && o.choices.join('|') + (o.type === 'list' ? ',...' : '');
    const flag = `--${k}${o.alias ? `, -${o.alias}` : ''}${o.type === 'boolean' ? '' : ` <${choices ?? (o.type === 'threads' ? 'n' : o.type)}>`}`;
    const dflt =
      o.default !== undefined && o.default !== false
        ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)})`
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
      if (spec.commas === false) {
        if (raw.trim() === '') throw new UsageError(`--${name} needs a value`);
        return [oneOf(name, spec, raw)];
      }
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => oneOf(name, spec, s));
    case 'string':
      return oneOf(name, spec, raw);
    default:
      return raw;
  }
}

function oneOf(name: string, spec: OptSpec, v: string): string {
  if (spec.choices && !spec.choices.includes(v))
    throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got '${v}'`);
  return v;
}

/** The option as the user may write it: -c/--checkpoint, or --top. */
const flagName = (name: string, spec: OptSpec) =>
  spec.alias ? `-${spec.alias}/--${name}` : `--${name}`;

/** A negative number (-1, -.5) is a value, never an option. */
const NEGATIVE_NUMBER = /^-\.?\d/;

function unknownOption(def: CommandDef, arg: string): UsageError {
  if (/[./]/.test(arg))
    return new UsageError(
      `unknown option ${arg} (a file named '${arg}'? give it as ./${arg} or after --)`,
    );
  const name = arg.replace(/^--?/, '').split('=')[0];
  const hint = arg.startsWith('--') ? closest(Object.keys(def.options), name) : undefined;
  return new UsageError(`unknown option ${arg}${hint ? ` (did you mean --${hint}?)` : ''}`);
}

/**
 * Parse `argv` against the command's option table. node:util parseArgs splits the arguments into
 * tokens (--name, --name=value, -k value, -k5, --, positionals); each token is then checked here,
 * in order, and the first problem is thrown as a one-line UsageError: an unknown option (with a
 * "did you mean"), an option that needs a value given none or given something that looks like an
 * option (`-c --help`; write --checkpoint=-x for a value that starts with a dash), a value the
 * option's type or bounds refuse. Also: --no-NAME sets a boolean to false, a repeated list option
 * adds to the list (--model a --model b), a key=value positional is a config override when the
 * command takes them, everything after `--` is positional, and -h/--help asks for the help.
 */
export function parseArgs<O extends OptionTable>(def: CommandDef<O>, argv: string[]): Parsed<O> {
  const table: OptionTable = def.options;
  const has = (k: string) => Object.hasOwn(table, k);
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const [k, o] of Object.entries(table))
    config[k] = o.alias
      ? { type: o.type === 'boolean' ? 'boolean' : 'string', short: o.alias }
      : { type: o.type === 'boolean' ? 'boolean' : 'string' };
  config.help = { type: 'boolean', short: 'h' };
  // strict: false — the checks below are ours, so every refusal is one line naming the option
  const { tokens } = nodeParseArgs({
    args: argv,
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const opts: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(table))
    opts[k] = Array.isArray(o.default)
      ? [...o.default]
      : (o.default ?? (o.type === 'boolean' ? false : undefined));
  const positionals: string[] = [];
  const overrides: string[] = [];
  let help = false;
  let terminated = false;
  const given = new Set<string>();
  const perArg = new Map<number, number>();
  for (const t of tokens)
    if (t.kind === 'option') perArg.set(t.index, (perArg.get(t.index) ?? 0) + 1);
  const done = new Set<number>(); // argument indices already taken whole (a -123 positional)

  for (const t of tokens) {
    if (t.kind === 'option-terminator') {
      terminated = true;
      continue;
    }
    if (t.kind === 'positional') {
      if (!terminated && def.overrides && /^[A-Za-z_][\w.]*=/.test(t.value))
        overrides.push(t.value);
      else positionals.push(t.value);
      continue;
    }
    const arg = argv[t.index];
    if (done.has(t.index)) continue;
    const short = !arg.startsWith('--');
    if (short && NEGATIVE_NUMBER.test(arg)) {
      done.add(t.index); // -5 is a positional, not options -5
      positionals.push(arg);
      continue;
    }
    // one short option per argument, with its value attached or not (-k5, -k 5); never groups
    if (short && (perArg.get(t.index)! > 1 || (arg.length > 2 && !t.inlineValue)))
      throw unknownOption(def, arg);
    if (t.name === 'help') {
      help = true;
      continue;
    }
    if (!has(t.name)) {
      const base = t.name.startsWith('no-') ? t.name.slice(3) : '';
      if (!short && base && has(base) && table[base].type === 'boolean' && !t.inlineValue) {
        opts[base] = false;
        continue;
      }
      throw unknownOption(def, arg);
    }
    const spec = table[t.name];
    if (spec.type === 'boolean') {
      opts[t.name] = t.value === undefined ? true : !['false', '0', 'no'].includes(t.value);
      continue;
    }
    const raw = t.value;
    if (raw === undefined) throw new UsageError(`${flagName(t.name, spec)} needs a value`);
    if (!t.inlineValue && raw.length > 1 && raw.startsWith('-') && !NEGATIVE_NUMBER.test(raw))
      throw new UsageError(
        `${flagName(t.name, spec)} needs a value, got option ${raw} (a value starting with '-' goes as --${t.name}=${raw})`,
      );
    const v = convert(t.name, spec, raw);
    // a repeated list option adds to the list given before it (--model a --model b)
    opts[t.name] =
      spec.type === 'list' && given.has(t.name)
        ? [...(opts[t.name] as string[]), ...(v as string[])]
        : v;
    given.add(t.name);
  }
  return { opts: opts as ParsedOptions<O>, positionals, overrides, help };
}

/** Parse, print help when asked (returns null then), otherwise the parsed arguments. */
export function parseOrHelp<O extends OptionTable>(
  def: CommandDef<O>,
  argv: string[],
): Parsed<O> | null {
  const p = parseArgs(def, argv);
  if (p.help) {
    console.log(helpText(def));
    return null;
  }
  return p;
}
