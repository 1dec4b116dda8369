#!/usr/bin/env node
// The `eflip` command: thin launcher for the compiled CLI (run `npm run setup` first).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  console.error(`eflip: not built yet (${main} is missing). Run: npm run setup`);
  process.exit(1);
}
const { run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
