// The HTML run report: loss / accuracy / lr curves and the confusion matrix of the best
// checkpoint as PNG files next to report.html, plus the metrics tables. Built from metrics.jsonl.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { MetricsLog, type MetricRecord } from './metrics_log.js';
import { confusionPlot, linePlot, PALETTE } from './plot.js';
import { metricsMarkdown, type EvalMetrics } from './metrics.js';

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Markdown tables → minimal HTML tables. */
function mdToHtml(md: string): string {
  const out: string[] = [];
  let inTable = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      if (/^\|[-| ]+\|$/.test(line)) continue;
      const cells = line
        .slice(1, -1)
        .split('|')
        .map((c) => esc(c.trim()));
      if (!inTable) {
        out.push('<table><tr>' + cells.map((c) => `<th>${c}</th>`).join('') + '</tr>');
        inTable = true;
      } else out.push('<tr>' + cells.map((c) => `<td>${c}</td>`).join('') + '</tr>');
      continue;
    }
    if (inTable) {
      out.push('</table>');
      inTable = false;
    }
    if (line.startsWith('### ')) out.push(`<h3>${esc(line.slice(4))}</h3>`);
    else if (line.trim()) out.push(`<p>${esc(line)}</p>`);
  }
  if (inTable) out.push('</table>');
  return out.join('\n');
}

export interface ReportInput {
  runDir: string;
  title: string;
  configYaml: string;
  /** metrics of the best checkpoint (val or test) with its confusion matrix */
  best?: { name: string; metrics: EvalMetrics };
  extraMarkdown?: string;
}

/** Writes loss.png, accuracy.png, lr.png, confusion.png and report.html into runDir. Returns the HTML path. */
export function writeRunReport(inp: ReportInput): string {
  const recs = MetricsLog.read(join(inp.runDir, 'metrics.jsonl'));
  const steps = recs.filter((r) => r.kind === 'step');
  const epochs = recs.filter((r) => r.kind === 'epoch');
  const pts = (rs: MetricRecord[], x: string, y: string): [number, number][] =>
    rs.filter((r) => typeof r[y] === 'number').map((r) => [Number(r[x]), Number(r[y])]);
  const images: { file: string; alt: string }[] = [];
  const save = (file: string, png: Buffer, alt: string) => {
    writeFileAtomic(join(inp.runDir, file), png);
    images.push({ file, alt });
  };
  save(
    'loss.png',
    linePlot(
      [
        { name: 'train (step)', color: PALETTE[0], points: pts(steps, 'step', 'loss') },
        { name: 'train (epoch)', color: PALETTE[2], points: pts(epochs, 'step', 'train_loss') },
        { name: 'val', color: PALETTE[1], points: pts(epochs, 'step', 'val_loss') },
      ],
      { title: 'loss', xLabel: 'step', yLabel: 'nll' },
    ).png(),
    'loss curves',
  );
  save(
    'accuracy.png',
    linePlot(
      [
        { name: 'train', color: PALETTE[0], points: pts(epochs, 'step', 'train_acc') },
        { name: 'val top-1', color: PALETTE[1], points: pts(epochs, 'step', 'val_acc') },
        { name: 'val top-5', color: PALETTE[2], points: pts(epochs, 'step', 'val_top5') },
      ],
      { title: 'accuracy', xLabel: 'step', yLabel: 'fraction' },
    ).png(),
    'accuracy curves',
  );
  save(
    'lr.png',
    linePlot([{ name: 'lr', color: PALETTE[4], points: pts(steps, 'step', 'lr') }], {
      title: 'learning rate',
      xLabel: 'step',
    }).png(),
    'learning-rate schedule',
  );
  if (inp.best)
    save(
      'confusion.png',
      confusionPlot(
        inp.best.metrics.confusion,
        inp.best.metrics.labels,
        `confusion: ${inp.best.name}`,
      ).png(),
      'confusion matrix',
    );

  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(inp.title)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}img{max-width:100%;border:1px solid #ddd;margin:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}pre{background:#f6f6f6;padding:8px;overflow:auto}</style>
</head><body>
<h1>${esc(inp.title)}</h1>
<p>${steps.length} logged steps, ${epochs.length} epochs. Generated ${new Date().toISOString()}.</p>
${images.map((i) => `<img src="${i.file}" alt="${esc(i.alt)}">`).join('\n')}
${inp.best ? `<h2>Best checkpoint: ${esc(inp.best.name)}</h2>\n${mdToHtml(metricsMarkdown(inp.best.metrics))}` : ''}
${inp.extraMarkdown ? mdToHtml(inp.extraMarkdown) : ''}
<h2>Epochs</h2>
<table><tr><th>epoch</th><th>step</th><th>train loss</th><th>train acc</th><th>val loss</th><th>val acc</th><th>lr</th></tr>
${epochs.map((e) => `<tr><td>${e.epoch}</td><td>${e.step}</td>${['train_loss', 'train_acc', 'val_loss', 'val_acc', 'lr'].map((k) => `<td>${typeof e[k] === 'number' ? Number(e[k]).toPrecision(4) : ''}</td>`).join('')}</tr>`).join('\n')}
</table>
<h2>Config</h2><pre>${esc(inp.configYaml)}</pre>
</body></html>
`;
  const path = join(inp.runDir, 'report.html');
  writeFileAtomic(path, html);
  return path;
}
