// Progress bar with rate and ETA on a TTY (stderr); plain periodic lines otherwise. The bar and
// duration helpers are shared with the trainer's per-epoch bar (src/train/progress.ts).

/** Seconds as mm:ss (h:mm:ss past an hour); '--:--' when unknown. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

/** `[####....]` of `width` cells for done/total. */
export function barCells(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export class Progress {
  private t0 = Date.now();
  private last = 0;
  private lastPct = -1;
  private readonly tty: boolean;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = !!stream.isTTY;
  }

  update(done: number, extra = ''): void {
    if (this.quiet || this.total <= 0) return;
    const now = Date.now();
    const pct = Math.floor((100 * done) / this.total);
    const final = done >= this.total;
    if (
      this.tty
        ? now - this.last < 100 && !final
        : pct < this.lastPct + 10 && now - this.last < 10000 && !final
    )
      return;
    this.last = now;
    this.lastPct = pct;
    const secs = (now - this.t0) / 1000;
    const rate = done / Math.max(secs, 1e-3);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const msg = `${this.label} ${done}/${this.total} ${pct}% ${rate.toFixed(1)}/s ETA ${formatDuration(eta)}${extra ? ' ' + extra : ''}`;
    if (this.tty) {
      this.stream.write(`\r${barCells(done, this.total)} ${msg}\x1b[K${final ? '\n' : ''}`);
    } else this.stream.write(msg + '\n');
  }
}
