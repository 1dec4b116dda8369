// Where an installed npm package lives: the folder of its package.json, found from the file
// `require.resolve` gives for it (so packages whose `exports` hide package.json resolve too,
// and a dependency hoisted above eflip's own node_modules is found where npm put it).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);

/** The installed folder of package `name`; throws (require's MODULE_NOT_FOUND) when it is absent. */
export function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!existsSync(path.join(dir, 'package.json')) && dir !== path.dirname(dir))
    dir = path.dirname(dir);
  return dir;
}
