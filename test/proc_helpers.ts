// Child processes seen through /proc (Linux): which ffmpeg/ffprobe a process has running.
import { readdirSync, readFileSync } from 'node:fs';

const TOOLS = new Set(['ffmpeg', 'ffprobe']);

/** Process ids of the ffmpeg/ffprobe processes whose parent is `parent`. */
export function toolPids(parent = process.pid): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
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
