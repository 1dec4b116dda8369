// A command's temporary directory outlives it when Ctrl-C or a scheduler's SIGTERM ends the
// process: Node's default action exits at once and no `finally` runs. The command's finally
// still removes it on every other ending; this covers the signals, the way train's trainer and
// launcher take them (handlers for the run, removed after it; exit 130 for SIGINT, 143 for SIGTERM).
import { rmSync } from 'node:fs';

/**
 * Until the returned function is called, SIGINT or SIGTERM removes `dir` (unless `keep`, where
 * `onKeep` says it stays) and exits 130 / 143. Call the returned function in the command's
 * finally, beside its own removal.
 */
export function removeOnSignal(
  dir: string,
  opts: { keep?: boolean; onKeep?: (dir: string) => void } = {},
): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    if (opts.keep) opts.onKeep?.(dir);
    else rmSync(dir, { recursive: true, force: true });
    process.exit(sig === 'SIGTERM' ? 143 : 130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
