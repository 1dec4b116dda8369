// Rewrite the generated blocks (CLI and config reference) inside README.md.
import { readFileSync, writeFileSync } from 'node:fs';
const { regenerate } = await import('../dist/src/cli/reference.js');
const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = await regenerate(before);
if (after !== before) writeFileSync(path, after);
console.error(
  after === before
    ? 'README.md generated blocks up to date'
    : 'README.md generated blocks regenerated',
);
