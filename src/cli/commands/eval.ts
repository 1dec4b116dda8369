// `eflip eval` — placeholder until its issue lands; prints what it will do.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = {
  name: 'eval',
  usage: 'eval [options]',
  description: 'Not implemented yet.',
  options: {},
};

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.error('eflip eval: not implemented yet');
  return 1;
}
