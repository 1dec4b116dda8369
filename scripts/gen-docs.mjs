// Rewrite the generated CLI reference inside README.md (run after `npm run setup`).
import { readFileSync, writeFileSync } from 'node:fs';
const { cliReference, spliceReference } = await import('../dist/src/cli/reference.js');
const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = spliceReference(before, await cliReference());
if (after !== before) writeFileSync(path, after);
console.error(after === before ? 'README.md CLI reference up to date' : 'README.md CLI reference regenerated');
