// `eflip info` — placeholder until its issue lands; prints what it will do.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = {
  name: 'info',
  usage: 'info [options]',
  description: 'Not implemented yet.',
  options: {},
};

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.error('eflip info: not implemented yet');
  return 1;
}
