// Progress bar with rate and ETA on a TTY (stderr); plain periodic lines otherwise.
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
    if (this.tty ? now - this.last < 100 && !final : pct < this.lastPct + 10 && now - this.last < 10000 && !final) return;
    this.last = now;
    this.lastPct = pct;
    const secs = (now - this.t0) / 1000;
    const rate = done / Math.max(secs, 1e-3);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const msg = `${this.label} ${done}/${this.total} ${pct}% ${rate.toFixed(1)}/s ETA ${fmt(eta)}${extra ? ' ' + extra : ''}`;
    if (this.tty) {
      const w = 24, fill = Math.round((w * done) / this.total);
      this.stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${msg}\x1b[K${final ? '\n' : ''}`);
    } else this.stream.write(msg + '\n');
  }
}

function fmt(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}
