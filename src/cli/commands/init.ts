// `eflip init` — placeholder until its issue lands; prints what it will do.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = {
  name: 'init',
  usage: 'init [options]',
  description: 'Not implemented yet.',
  options: {},
};

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.error('eflip init: not implemented yet');
  return 1;
}
