// `eflip bench infer` — placeholder until its issue lands.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = { name: 'bench infer', usage: 'bench infer [--json]', description: 'Not implemented yet.', options: { json: { type: 'boolean', help: 'print JSON' } } };

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.error('eflip bench infer: not implemented yet');
  return 1;
}
