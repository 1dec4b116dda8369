// `eflip build-native`: build the libtorch addon (training, --runtime torch) in place — what the
// npm install does when it finds libtorch, for an install that did not (scripts/build-native.cjs).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';

export const def = defineCommand({
  name: 'build-native',
  usage: 'build-native',
  description: [
    'Build the libtorch addon (native/build/Release/eflip_native.node) with node-gyp, against the',
    'libtorch that LIBTORCH=/path, LIBTORCH_USE_PYTORCH=1 or the system copy (Debian: libtorch-dev)',
    'provides. Needed for training and --runtime torch; ONNX inference does not need it.',
  ].join('\n'),
  options: {},
  examples: ['npx eflip build-native', 'LIBTORCH=/opt/libtorch npx eflip build-native'],
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  const require = createRequire(import.meta.url);
  const { locate, probeC10d } = require(path.join(ROOT, 'scripts', 'find-libtorch.cjs')) as {
    locate: () => any;
    probeC10d: (f: any) => any;
  };
  const { build } = require(path.join(ROOT, 'scripts', 'build-native.cjs')) as {
    build: () => number;
  };
  let f;
  try {
    f = probeC10d(locate());
  } catch (e) {
    throw new Error(
      `libtorch not found: ${(e as Error).message
        .split('\n')
        .slice(1)
        .map((l) => l.trim())
        .join('; ')}`,
    );
  }
  console.error(
    `building the libtorch addon against libtorch ${f.version} from ${f.source} (a few minutes)`,
  );
  const status = build();
  if (status !== 0) throw new Error(`node-gyp failed (exit ${status}; its output is above)`);
  console.log(
    `built ${path.join(ROOT, 'native', 'build', 'Release', 'eflip_native.node')}; check it with \`eflip doctor\``,
  );
  return 0;
}
