// `eflip bench train` — placeholder until its issue lands.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = { name: 'bench train', usage: 'bench train [--json]', description: 'Not implemented yet.', options: { json: { type: 'boolean', help: 'print JSON' } } };

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.error('eflip bench train: not implemented yet');
  return 1;
}
