// `eflip bench data` — placeholder until its issue lands.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = { name: 'bench data', usage: 'bench data [--json]', description: 'Not implemented yet.', options: { json: { type: 'boolean', help: 'print JSON' } } };

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.error('eflip bench data: not implemented yet');
  return 1;
}
