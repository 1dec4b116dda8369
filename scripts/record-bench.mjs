#!/usr/bin/env node
// Run one benchmark and record its JSON as the latest measurement in bench/results.json, which
// the README's benchmark table is generated from (`npm run docs`; test/cli.test.ts fails when
// the table is stale). Usage: node scripts/record-bench.mjs KEY eflip bench KIND --json [options]
//   e.g. node scripts/record-bench.mjs infer eflip bench infer --json --rounds 3
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';

const [key, eflip, ...args] = process.argv.slice(2);
if (!key || eflip !== 'eflip' || args[0] !== 'bench' || !args.includes('--json')) {
  console.error('usage: node scripts/record-bench.mjs KEY eflip bench KIND --json [options]');
  process.exit(2);
}
const file = new URL('../bench/results.json', import.meta.url);
const bin = new URL('../bin/eflip.js', import.meta.url).pathname;
const loadBefore = os.loadavg()[0];
const t0 = Date.now();
const r = spawnSync(process.execPath, [bin, ...args], {
  encoding: 'utf8',
  maxBuffer: 1 << 26,
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (r.status !== 0) {
  console.error(`record-bench: \`eflip ${args.join(' ')}\` exited ${r.status}; nothing recorded`);
  process.exit(1);
}
const result = JSON.parse(r.stdout);
const all = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
all[key] = {
  command: `eflip ${args.join(' ')}`,
  measuredAt: new Date().toISOString().slice(0, 10),
  seconds: Math.round((Date.now() - t0) / 1000),
  machine: {
    cpus: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    loadAverage1m: [+loadBefore.toFixed(1), +os.loadavg()[0].toFixed(1)],
  },
  result,
};
writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(all).sort()), null, 1) + '\n');
console.error(
  `record-bench: bench/results.json[${key}] recorded; run \`npm run docs\` to regenerate the README table`,
);
