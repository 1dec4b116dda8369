// Exact classification metrics from per-sample counts (docs/design.md defect 8: the reference averaged
// per-batch accuracies). Feed log-probabilities (B, C) and targets batch by batch; results are
// computed from the confusion matrix and summed per-sample losses, never from batch means.
export interface ConfusedPair {
  truth: string;
  predicted: string;
  count: number;
  /** fraction of `truth` clips predicted as `predicted` */
  rate: number;
}
export interface WordAccuracy {
  word: string;
  correct: number;
  total: number;
  accuracy: number;
}
export interface EvalMetrics {
  samples: number;
  /** mean NLL over samples (natural log) */
  loss: number;
  top1: number;
  top5: number;
  correct: number;
  correctTop5: number;
  precisionWeighted: number;
  recallWeighted: number;
  f1Weighted: number;
  balancedAccuracy: number;
  perWord: WordAccuracy[];
  confusedPairs: ConfusedPair[];
  /** row = truth, column = prediction */
  confusion: number[][];
  labels: string[];
}

export class MetricAccumulator {
  readonly C: number;
  private confusion: Float64Array;
  private lossSum = 0;
  private n = 0;
  private top5 = 0;
  constructor(
    readonly labels: string[],
    readonly topK = 5,
  ) {
    this.C = labels.length;
    this.confusion = new Float64Array(this.C * this.C);
  }

  /** logProbs: row-major (B, C); targets: B class indices. */
  update(logProbs: ArrayLike<number>, targets: ArrayLike<number>): void {
    const C = this.C;
    const B = targets.length;
    if (logProbs.length !== B * C)
      throw new Error(`metrics: expected ${B}×${C} scores, got ${logProbs.length}`);
    for (let b = 0; b < B; b++) {
      const t = Number(targets[b]);
      if (!Number.isInteger(t) || t < 0 || t >= C)
        throw new Error(`metrics: target ${targets[b]} outside 0..${C - 1}`);
      const off = b * C;
      let arg = 0;
      let best = -Infinity;
      for (let c = 0; c < C; c++) {
        const v = logProbs[off + c];
        if (v > best) {
          best = v;
          arg = c;
        }
      }
      // rank of the true class = number of classes scoring strictly higher
      const st = logProbs[off + t];
      let higher = 0;
      for (let c = 0; c < C; c++) if (logProbs[off + c] > st) higher++;
      if (higher < this.topK) this.top5++;
      this.confusion[t * C + arg]++;
      this.lossSum += -st;
      this.n++;
    }
  }

  get samples(): number {
    return this.n;
  }

  /** Every count in one vector [n, loss sum, top-5 hits, confusion…]: summed over data-parallel ranks
   *  and loaded back, the metrics are those of one process that saw every clip. */
  counts(): Float64Array {
    const v = new Float64Array(3 + this.confusion.length);
    v[0] = this.n;
    v[1] = this.lossSum;
    v[2] = this.top5;
    v.set(this.confusion, 3);
    return v;
  }

  load(v: Float64Array): void {
    if (v.length !== 3 + this.confusion.length)
      throw new Error(`metrics: ${v.length} counts for ${this.C} classes`);
    this.n = v[0];
    this.lossSum = v[1];
    this.top5 = v[2];
    this.confusion.set(v.subarray(3));
  }

  /** Running top-1 and loss (for progress bars). */
  running(): { loss: number; acc: number } {
    let correct = 0;
    for (let c = 0; c < this.C; c++) correct += this.confusion[c * this.C + c];
    return { loss: this.n ? this.lossSum / this.n : NaN, acc: this.n ? correct / this.n : NaN };
  }

  result(maxPairs = 10): EvalMetrics {
    const C = this.C;
    const M = this.confusion;
    const support = new Float64Array(C);
    const predicted = new Float64Array(C);
    let correct = 0;
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        support[i] += M[i * C + j];
        predicted[j] += M[i * C + j];
      }
      correct += M[i * C + i];
    }
    let p = 0,
      r = 0,
      f = 0,
      recallSum = 0,
      present = 0;
    const perWord: WordAccuracy[] = [];
    for (let c = 0; c < C; c++) {
      const tp = M[c * C + c];
      const prec = predicted[c] > 0 ? tp / predicted[c] : 0;
      const rec = support[c] > 0 ? tp / support[c] : 0;
      const f1 = prec + rec > 0 ? (2 * prec * rec) / (prec + rec) : 0;
      p += prec * support[c];
      r += rec * support[c];
      f += f1 * support[c];
      if (support[c] > 0) {
        recallSum += rec;
        present++;
      }
      perWord.push({
        word: this.labels[c],
        correct: tp,
        total: support[c],
        accuracy: support[c] > 0 ? rec : NaN,
      });
    }
    const pairs: ConfusedPair[] = [];
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        if (i !== j && M[i * C + j] > 0)
          pairs.push({
            truth: this.labels[i],
            predicted: this.labels[j],
            count: M[i * C + j],
            rate: M[i * C + j] / support[i],
          });
      }
    }
    pairs.sort((a, b) => b.count - a.count || b.rate - a.rate || a.truth.localeCompare(b.truth));
    const n = this.n;
    const confusion: number[][] = [];
    for (let i = 0; i < C; i++) confusion.push(Array.from(M.subarray(i * C, (i + 1) * C)));
    return {
      samples: n,
      loss: n ? this.lossSum / n : NaN,
      top1: n ? correct / n : NaN,
      top5: n ? this.top5 / n : NaN,
      correct,
      correctTop5: this.top5,
      precisionWeighted: n ? p / n : NaN,
      recallWeighted: n ? r / n : NaN,
      f1Weighted: n ? f / n : NaN,
      balancedAccuracy: present ? recallSum / present : NaN,
      perWord,
      confusedPairs: pairs.slice(0, maxPairs),
      confusion,
      labels: [...this.labels],
    };
  }
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)} %` : 'n/a');

/** A markdown report: summary table, most confused pairs, per-word accuracy. */
export function metricsMarkdown(m: EvalMetrics, title = 'Evaluation'): string {
  const lines = [
    `### ${title}`,
    '',
    '| metric | value |',
    '|---|---|',
    `| clips | ${m.samples} |`,
    `| loss (NLL) | ${m.loss.toFixed(4)} |`,
    `| top-1 | ${pct(m.top1)} (${m.correct}/${m.samples}) |`,
    `| top-5 | ${pct(m.top5)} (${m.correctTop5}/${m.samples}) |`,
    `| weighted precision | ${pct(m.precisionWeighted)} |`,
    `| weighted recall | ${pct(m.recallWeighted)} |`,
    `| weighted F1 | ${pct(m.f1Weighted)} |`,
    `| balanced accuracy | ${pct(m.balancedAccuracy)} |`,
    '',
  ];
  if (m.confusedPairs.length) {
    lines.push(
      'Most confused pairs:',
      '',
      '| truth | predicted | clips | rate |',
      '|---|---|---|---|',
    );
    for (const p of m.confusedPairs)
      lines.push(`| ${p.truth} | ${p.predicted} | ${p.count} | ${pct(p.rate)} |`);
    lines.push('');
  }
  lines.push(
    'Per-word accuracy:',
    '',
    '| word | correct | clips | accuracy |',
    '|---|---|---|---|',
  );
  for (const w of m.perWord)
    lines.push(`| ${w.word} | ${w.correct} | ${w.total} | ${pct(w.accuracy)} |`);
  return lines.join('\n') + '\n';
}

/** JSON without the (possibly 500×500) confusion matrix unless asked. */
export function metricsJson(m: EvalMetrics, withConfusion = false): Record<string, unknown> {
  const { confusion, ...rest } = m;
  return withConfusion ? { ...rest, confusion } : rest;
}
