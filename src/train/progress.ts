// A progress bar per epoch: step, clips/s, loss, acc, lr, ETA. On a TTY it redraws one line;
// otherwise (CI, pipes, log files) it prints a plain line every `plainEvery` steps.
import { barCells, formatDuration } from '../data/progress.js';

export { formatDuration };

export interface ProgressStats {
  loss?: number;
  acc?: number;
  lr?: number;
}

export class ProgressBar {
  private start = Date.now();
  private clips = 0;
  private lastDraw = 0;
  private readonly tty: boolean;
  constructor(
    readonly label: string,
    readonly total: number,
    readonly opts: {
      stream?: NodeJS.WriteStream;
      tty?: boolean;
      plainEvery?: number;
      width?: number;
    } = {},
  ) {
    const stream = opts.stream ?? process.stdout;
    this.tty = opts.tty ?? Boolean(stream.isTTY);
  }

  private get stream(): NodeJS.WriteStream {
    return this.opts.stream ?? process.stdout;
  }

  /** Text of one status line (exported for tests). */
  line(step: number, s: ProgressStats): string {
    const el = (Date.now() - this.start) / 1000;
    const rate = el > 0 ? this.clips / el : 0;
    const eta = step > 0 ? (el / step) * (this.total - step) : NaN;
    const w = this.opts.width ?? 24;
    const bar = this.tty ? ` ${barCells(step, this.total, w)}` : '';
    const parts = [
      `${this.label}${bar} ${step}/${this.total}`,
      `${rate.toFixed(1)} clips/s`,
      s.loss !== undefined ? `loss ${s.loss.toFixed(4)}` : '',
      s.acc !== undefined ? `acc ${(100 * s.acc).toFixed(1)}%` : '',
      s.lr !== undefined ? `lr ${s.lr.toExponential(2)}` : '',
      `${formatDuration(el)}<${formatDuration(eta)}`,
    ];
    return parts.filter(Boolean).join(' | ');
  }

  update(step: number, clipsInStep: number, s: ProgressStats): void {
    this.clips += clipsInStep;
    const every = this.opts.plainEvery ?? Math.max(1, Math.ceil(this.total / 10));
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastDraw < 100 && step < this.total) return;
      this.lastDraw = now;
      this.stream.write(`\r\x1b[2K${this.line(step, s)}`);
    } else if (step % every === 0 || step === this.total) {
      this.stream.write(this.line(step, s) + '\n');
    }
  }

  done(summary?: string): void {
    if (this.tty) this.stream.write('\n');
    if (summary) this.stream.write(summary + '\n');
  }
}
