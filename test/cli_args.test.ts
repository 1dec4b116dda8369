// Issue #15: the `eflip` option parser (src/cli/args.ts, on node:util parseArgs). Unit tests of
// the parser on every syntax it accepts or refuses, checks that each command's option table is
// consistent with itself, and the one-line refusals end to end through the built bin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defineCommand,
  helpText,
  parseArgs,
  UsageError,
  type CommandDef,
  type ParsedOptions,
} from '../src/cli/args.js';
import { COMMANDS } from '../src/cli/commands.js';
import * as path from 'node:path';
import { assertRefused, runEflip } from './hostile_helpers.js';
import { ROOT } from './onnx_helpers.js';

const def = defineCommand({
  name: 'probe',
  usage: 'probe FILE... [options]',
  description: 'a table with one option of every kind',
  options: {
    checkpoint: { type: 'string', alias: 'c', help: 'a file' },
    top: { type: 'int', alias: 'k', default: 5, min: 1, max: 1000, help: 'words' },
    'min-prob': { type: 'number', default: 0, min: 0, max: 1, help: 'a probability' },
    seed: { type: 'int', help: 'any integer' },
    threads: { type: 'threads', help: 'a thread count' },
    runtime: { type: 'string', choices: ['onnx', 'torch'], default: 'onnx', help: 'runtime' },
    model: { type: 'list', alias: 'm', help: 'models' },
    splits: {
      type: 'list',
      choices: ['train', 'val', 'test'],
      default: ['train', 'val', 'test'],
      help: 'splits',
    },
    json: { type: 'boolean', help: 'JSON' },
    'no-ema': { type: 'boolean', help: 'a boolean whose name starts with no-' },
  },
  overrides: true,
});
const parse = (...argv: string[]) => parseArgs(def, argv);
const refused = (argv: string[], message: RegExp) =>
  assert.throws(
    () => parseArgs(def, argv),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `not a UsageError: ${String(e)}`);
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /\n/, 'one line');
      return true;
    },
    `eflip probe ${argv.join(' ')}`,
  );

test('the parsed options are typed from the table (compile-time checks, and their values)', () => {
  const o: ParsedOptions<typeof def.options> = parse('a.mp4').opts;
  const top: number = o.top; // a default: always there
  const runtime: 'onnx' | 'torch' = o.runtime; // choices: their union
  const splits: ('train' | 'val' | 'test')[] = o.splits;
  const json: boolean = o.json; // booleans: false when not given
  const checkpoint: string | undefined = o.checkpoint; // no default: may be undefined
  const seed: number | undefined = o.seed;
  const models: string[] | undefined = o.model;
  // @ts-expect-error an option without a default may be undefined
  const mustBeString: string = o.checkpoint;
  // @ts-expect-error an int option is a number, not a string
  const notAString: string = o.top;
  // @ts-expect-error an option the table does not have
  void o.chekpoint;
  void mustBeString;
  void notAString;
  assert.deepEqual(
    { top, runtime, splits, json, checkpoint, seed, models, noEma: o['no-ema'] },
    {
      top: 5,
      runtime: 'onnx',
      splits: ['train', 'val', 'test'],
      json: false,
      checkpoint: undefined,
      seed: undefined,
      models: undefined,
      noEma: false,
    },
  );
});

test('a value goes as --top 5, --top=5, -k 5 or -k5', () => {
  for (const argv of [['--top', '7'], ['--top=7'], ['-k', '7'], ['-k7']])
    assert.equal(parse(...argv).opts.top, 7, argv.join(' '));
  assert.equal(parse('-cmodel.onnx').opts.checkpoint, 'model.onnx');
  assert.equal(parse('--min-prob=0.25').opts['min-prob'], 0.25);
  assert.equal(parse('--threads', '2').opts.threads, 2);
  // negative numbers are values, not options
  assert.equal(parse('--seed', '-3').opts.seed, -3);
  assert.equal(parse('--seed=-3').opts.seed, -3);
  // the last of a repeated single-value option counts (as before)
  assert.equal(parse('--top', '2', '--top', '3').opts.top, 3);
});

test('an empty or non-numeric value of a numeric option is refused, never read as 0', () => {
  refused(['--top', ''], /^--top expects an integer, got ''$/);
  refused(['--top='], /^--top expects an integer, got ''$/);
  refused(['-k', ' '], /^--top expects an integer, got ' '$/);
  refused(['--top', 'five'], /^--top expects an integer, got 'five'$/);
  refused(['--top', '2.5'], /^--top expects an integer, got '2\.5'$/);
  refused(['-k0x'], /^--top expects an integer, got '0x'$/);
  refused(['--min-prob', ''], /^--min-prob expects a number, got ''$/);
  refused(['--min-prob', 'NaN'], /^--min-prob expects a number, got 'NaN'$/);
  refused(['--seed', '1e300'], /^--seed expects an integer below 2\^53/);
  refused(['--threads', ''], /^--threads must be an integer >= 1/);
  // bounds and choices from the table
  refused(['--top', '0'], /^--top must be between 1 and 1000, got 0$/);
  refused(['--min-prob', '1.5'], /^--min-prob must be between 0 and 1, got 1\.5$/);
  refused(['--runtime', 'tf'], /^--runtime must be one of onnx, torch, got 'tf'$/);
  refused(['--splits', 'train,dev'], /^--splits must be one of train, val, test, got 'dev'$/);
});

test('an option that needs a value is not given the next option as its value', () => {
  refused(['-c', '--help'], /^-c\/--checkpoint needs a value/);
  refused(['--checkpoint', '--json'], /^-c\/--checkpoint needs a value/);
  refused(['a.mp4', '-c'], /^-c\/--checkpoint needs a value$/);
  refused(['--top'], /^-k\/--top needs a value$/);
  refused(['--seed', '--'], /^--seed needs a value/);
  refused(['-m', '-c', 'x'], /^-m\/--model needs a value/);
  // the way to give a value that starts with a dash is the attached form
  assert.equal(parse('--checkpoint=--help').opts.checkpoint, '--help');
  assert.equal(parse('-c-x.onnx').opts.checkpoint, '-x.onnx');
  assert.equal(parse('--checkpoint', '-').opts.checkpoint, '-');
});

test('unknown options are refused in one line, with a "did you mean" for a near miss', () => {
  refused(['--chekpoint', 'x'], /^unknown option --chekpoint \(did you mean --checkpoint\?\)$/);
  refused(['--mdoel=x'], /^unknown option --mdoel=x \(did you mean --model\?\)$/);
  refused(['--frobnicate'], /^unknown option --frobnicate$/);
  refused(['-x'], /^unknown option -x$/);
  refused(['-dash.mp4'], /^unknown option -dash\.mp4 \(a file named '-dash\.mp4'\? give it as/);
  // a group of short flags is not a syntax eflip takes (and -h inside one is not help)
  refused(['-hj'], /^unknown option -hj$/);
  // Object.prototype's names are not options
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
    refused([`--${name}`, '1'], new RegExp(`^unknown option --${name}`));
  // --no-NAME only negates a boolean
  refused(['--no-top'], /^unknown option --no-top/);
});

test('booleans: --json, --json=false, --no-json, and a table option named no-x', () => {
  assert.equal(parse('--json').opts.json, true);
  assert.equal(parse('--json=false').opts.json, false);
  assert.equal(parse('--json=0').opts.json, false);
  assert.equal(parse('--json', '--no-json').opts.json, false);
  assert.equal(parse('--no-ema').opts['no-ema'], true);
  // a boolean takes no separate value: the next word stays a positional
  assert.deepEqual(parse('--json', 'false').positionals, ['false']);
});

test('lists, positionals, key=value overrides, -- and help', () => {
  const p = parse('a.mp4', '-m', 'A', '--model', 'B,C', 'optim.lr=3e-4', '-5', 'b.mp4');
  assert.deepEqual(p.opts.model, ['A', 'B', 'C']);
  assert.deepEqual(p.positionals, ['a.mp4', '-5', 'b.mp4']);
  assert.deepEqual(p.overrides, ['optim.lr=3e-4']);
  // after -- everything is a positional, an option-looking word and a key=value too
  const q = parse('x', '--', '--json', 'seed=1', '-c');
  assert.deepEqual(q.positionals, ['x', '--json', 'seed=1', '-c']);
  assert.deepEqual(q.overrides, []);
  assert.equal(q.opts.json, false);
  // a command without overrides keeps key=value as a positional
  const noOverrides: CommandDef = { ...def, overrides: false };
  assert.deepEqual(parseArgs(noOverrides, ['seed=1']).positionals, ['seed=1']);
  // the default list is a copy: a parse never changes the table
  const r = parse('--splits', 'val');
  r.opts.splits.push('test');
  assert.deepEqual(def.options.splits.default, ['train', 'val', 'test']);
  assert.deepEqual(parse().opts.splits, ['train', 'val', 'test']);
  assert.equal(parse('-h').help, true);
  assert.equal(parse('a', '--help').help, true);
  assert.equal(parse('a').help, false);
  // a refusal wins over help: `-c --help` is a missing value, not a help request
  refused(['-c', '--help'], /needs a value/);
});

test('a list of paths (commas: false) takes each value whole; repeating it gives several', () => {
  const paths = defineCommand({
    name: 'probe',
    usage: 'probe',
    description: 'a path list',
    options: { model: { type: 'list', commas: false, alias: 'm', help: 'models' } },
  });
  const p = parseArgs(paths, ['--model', 'runs/lr=1e-3,bs=8/model.onnx', '-m', 'b.onnx']);
  assert.deepEqual(p.opts.model, ['runs/lr=1e-3,bs=8/model.onnx', 'b.onnx']);
  assert.deepEqual(parseArgs(paths, ['--model=a,b']).opts.model, ['a,b']);
  assert.throws(() => parseArgs(paths, ['--model=']), /--model needs a value/);
});

test("every command's option table parses its own defaults and has usable short forms", async () => {
  const { def: bench } = await import('../src/cli/commands/bench.js');
  const defs: CommandDef[] = [bench];
  for (const c of COMMANDS) defs.push(((await c.load()) as unknown as { def: CommandDef }).def);
  const { BENCH_KINDS } = await import('../src/cli/commands/bench.js');
  for (const k of BENCH_KINDS)
    defs.push(((await import(`../src/cli/bench/${k}.js`)) as { def: CommandDef }).def);
  for (const d of defs) {
    const shorts = new Set<string>(['h']);
    for (const [name, o] of Object.entries(d.options)) {
      if (o.alias) {
        assert.match(o.alias, /^[a-zA-Z]$/, `${d.name} --${name}: a short form is one letter`);
        assert.ok(!shorts.has(o.alias), `${d.name}: -${o.alias} is used twice`);
        shorts.add(o.alias);
      }
      assert.ok(name !== 'help', `${d.name}: --help is the parser's`);
      if (o.default === undefined || o.type === 'boolean') continue;
      const raw = Array.isArray(o.default) ? o.default.join(',') : String(o.default);
      const v = parseArgs(d, [`--${name}=${raw}`]).opts[name];
      assert.deepEqual(v, o.default, `${d.name} --${name}: the default is a value it accepts`);
    }
    assert.match(helpText(d), new RegExp(`^Usage: eflip ${d.name}`));
  }
});

// end to end: the built bin, exit code 2 and one line (plus the "see --help" line) for usage errors
test('eflip refuses bad options in one line with exit code 2', async () => {
  const cases: [string[], RegExp][] = [
    [['predict', 'x.mp4', '--top', ''], /eflip predict: --top expects an integer, got ''/],
    [['predict', 'x.mp4', '-c', '--help'], /eflip predict: -c\/--checkpoint needs a value/],
    [['serve', '--prot', '9000'], /eflip serve: unknown option --prot \(did you mean --port\?\)/],
    [['stream', 'x.mp4', '-k5', '-w'], /eflip stream: -w\/--window needs a value/],
    [
      ['bench', 'webapp', '--warmup', '-1'],
      /eflip bench: --warmup must be between 0 and 5000, got -1/,
    ],
    [['bench', 'webapp', '--warmup', '99999'], /--warmup must be between 0 and 5000, got 99999/],
    [['bench', 'webapp', '--warmup', ''], /eflip bench: --warmup expects an integer, got ''/],
  ];
  for (const [args, message] of cases) {
    const r = await runEflip(args, { timeoutMs: 30_000 });
    assertRefused(r, message, { code: 2, maxMs: 20_000, label: args.join(' ') });
    assert.equal(r.stdout, '', 'no help or output on a refusal');
  }
});

test("eflip's own environment switches refuse a value they do not know in one line", async () => {
  const demo = path.join(ROOT, 'assets/demo/model.safetensors');
  const sample = path.join(ROOT, 'assets/samples/ABOUT_00001.mp4');
  const cases: [Record<string, string>, string[], RegExp][] = [
    [
      { EFLIP_ORT_LANES: 'yes' },
      ['predict', '-c', demo, sample],
      /EFLIP_ORT_LANES="yes": expected 0 or 1/,
    ],
    [
      { EFLIP_ORT_SPIN: 'true' },
      ['predict', '-c', demo, sample],
      /EFLIP_ORT_SPIN="true": expected 0 or 1/,
    ],
    [
      { EFLIP_ROI_BACKEND: 'gpu' },
      ['predict', '--face', '-c', demo, sample],
      /EFLIP_ROI_BACKEND="gpu": expected wasm or cpu/,
    ],
    [
      { EFLIP_ROI_THREAD: 'true' },
      ['predict', '--face', '-c', demo, sample],
      /EFLIP_ROI_THREAD="true": expected 0 or 1/,
    ],
  ];
  for (const [env, args, message] of cases) {
    const r = await runEflip(args, { timeoutMs: 60_000, env });
    assertRefused(r, message, { code: 1, maxMs: 50_000, label: JSON.stringify(env) });
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // the documented values still work
  const ok = await runEflip(['predict', '-c', demo, sample, '--json'], {
    timeoutMs: 60_000,
    env: { EFLIP_ORT_LANES: '0', EFLIP_ORT_SPIN: '0' },
  });
  assert.equal(ok.code, 0, ok.stderr);
});

test('eflip takes --name=value, --name value and --no-json end to end', async () => {
  const r = await runEflip(['info', '--variant=T', '--classes', '12', '--frames=29', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { variant: string; classes: number };
  assert.equal(out.variant, 'T');
  assert.equal(out.classes, 12);
  const plain = await runEflip(['info', '--classes=12', '--json', '--no-json']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.throws(() => JSON.parse(plain.stdout) as unknown, 'with --no-json the output is text');
  assert.match(plain.stdout, /12/);
});
