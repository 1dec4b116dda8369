// Headless Chromium for the page tests (browser, roi_browser, webapp): where it is, and one
// start/stop for pages that report their result themselves (POST to the test's server).
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { killGroup } from '../src/serve/cdp.js';

export const CHROMIUM = process.env.EFLIP_CHROMIUM ?? '/usr/bin/chromium';

export interface Page {
  chrome: ChildProcess;
  /** rejects when Chromium exits, or after timeoutMs, with the tail of its stderr */
  failed: Promise<never>;
}

/** Opens url in a fresh headless profile under dir; extra flags after the common ones. */
export function openPage(
  url: string,
  dir: string,
  flags: string[] = [],
  timeoutMs = 180_000,
): Page {
  let log = '';
  const chrome = spawn(
    CHROMIUM,
    [
      '--headless=new',
      '--no-sandbox',
      ...flags,
      '--disable-dev-shm-usage',
      '--no-first-run',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      url,
    ],
    // its own process group, so closePage can stop the helper processes too (renderers,
    // crashpad): left running, they kept writing into the profile while it was being removed
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  chrome.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  const exited = new Promise<never>((_, reject) =>
    chrome.on('exit', (code) =>
      reject(new Error(`chromium exited (${code}) before the page reported:\n${log}`)),
    ),
  );
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`no result from the page within ${timeoutMs / 1000} s:\n${log}`)),
      timeoutMs,
    ).unref(),
  );
  const failed = Promise.race([exited, timeout]);
  failed.catch(() => {}); // observed by the caller's race; never an unhandled rejection after close
  return { chrome, failed };
}

/** Kills Chromium and every process it started (its process group) and waits for them to be gone. */
export async function closePage(p: Page | null): Promise<void> {
  if (p) await killGroup(p.chrome);
}
