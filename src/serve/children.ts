// The ffmpeg/ffprobe child processes of this process (started by a prediction), from /proc:
// what `eflip serve` kills to cancel a prediction that ran past its time limit. Predictions run
// one at a time, so while one runs every ffmpeg/ffprobe child of the server is one of its tools
// (other children, e.g. the Chromium of `eflip bench webapp` serving in-process, are left alone).
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FFMPEG, FFPROBE } from '../data/video.js';

/** the video tools' process names (/proc comm: the first 15 bytes of the executable's name) */
const TOOLS = new Set([FFMPEG, FFPROBE].map((b) => path.basename(b).slice(0, 15)));

/** Process ids of the video tools whose parent is `parent` (Linux /proc; none elsewhere). */
export function toolPids(parent = process.pid): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && TOOLS.has(comm)) out.push(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** SIGKILL every ffmpeg/ffprobe child of this process; returns how many were signalled. */
export function killToolChildren(): number {
  let n = 0;
  for (const pid of toolPids()) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // already gone
    }
  }
  return n;
}
