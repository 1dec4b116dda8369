// The one per-user cache directory of eflip (landmark cache of `eflip roi`, decoded clips of
// `eflip train` on data.root): $EFLIP_CACHE_DIR, else $XDG_CACHE_HOME/eflip, else
// ~/.cache/eflip. Nothing is ever cached beside the user's inputs or in the current directory.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** `sub` under the cache root (e.g. 'landmarks', 'clips'). */
export function cacheDir(sub?: string): string {
  const env = process.env.EFLIP_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  // XDG: a relative XDG_CACHE_HOME is invalid and ignored
  const root = env
    ? resolve(env)
    : xdg && isAbsolute(xdg)
      ? join(xdg, 'eflip')
      : join(homedir(), '.cache', 'eflip');
  return sub ? join(root, sub) : root;
}
