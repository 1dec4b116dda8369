// Entry point of the `eflip` command (bin/eflip.js imports this).
import { readFileSync } from 'node:fs';
import { COMMANDS } from './commands.js';
import { UsageError } from './args.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return pkg.version as string;
}

export function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'eflip — lipreading in TypeScript (EfficientNetV2 + Transformer + TCN over libtorch / ONNX Runtime)',
    '',
    'Usage: eflip <command> [options]      eflip <command> --help',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Global: --help, --version',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(topHelp());
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    console.log(version());
    return 0;
  }
  const spec = COMMANDS.find((c) => c.name === cmd);
  if (!spec) {
    console.error(`eflip: unknown command '${cmd}'\n\n${topHelp()}`);
    return 2;
  }
  try {
    const mod = await spec.load();
    return await mod.default(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`eflip ${cmd}: ${e.message}\n(see: eflip ${cmd} --help)`);
      return 2;
    }
    const err = e as Error;
    console.error(`eflip ${cmd}: ${err.message ?? String(e)}`);
    if (process.env.EFLIP_DEBUG) console.error(err.stack);
    return 1;
  }
}
