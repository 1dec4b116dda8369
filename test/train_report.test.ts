import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { encodePng, crc32 } from '../src/io/png.js';
import { MetricsLog } from '../src/train/metrics_log.js';
import { writeRunReport } from '../src/train/report.js';
import { MetricAccumulator } from '../src/train/metrics.js';
import { ProgressBar } from '../src/train/progress.js';

test('PNG encoder writes valid chunks and the exact pixels', () => {
  const w = 3,
    h = 2;
  const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) & 255);
  const png = encodePng(px, w, h, 3);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926); // standard CRC-32 check value
  let off = 8;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    assert.equal(
      png.readUInt32BE(off + 8 + len),
      crc32(png.subarray(off + 4, off + 8 + len)),
      `${type} crc`,
    );
    if (type === 'IHDR')
      assert.deepEqual([png.readUInt32BE(off + 8), png.readUInt32BE(off + 12)], [w, h]);
    if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, h * (w * 3 + 1));
  assert.deepEqual([...raw.subarray(1, 1 + w * 3)], [...px.subarray(0, w * 3)]);
});

test('run report writes plots and an HTML page from metrics.jsonl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eflip-report-'));
  const log = new MetricsLog(join(dir, 'metrics.jsonl'));
  for (let s = 0; s < 20; s++)
    log.append({ kind: 'step', step: s, epoch: 0, loss: 2 - s / 20, lr: s / 20 });
  log.append({
    kind: 'epoch',
    step: 20,
    epoch: 0,
    train_loss: 1.5,
    val_loss: 1.4,
    val_acc: 0.5,
    train_acc: 0.4,
  });
  const m = new MetricAccumulator(['x', 'y']);
  m.update([0, -1, -1, 0], [0, 0]);
  const html = writeRunReport({
    runDir: dir,
    title: 'unit',
    configYaml: 'seed: 1\n',
    best: { name: 'best', metrics: m.result() },
  });
  for (const f of ['loss.png', 'accuracy.png', 'lr.png', 'confusion.png']) {
    assert.ok(existsSync(join(dir, f)), f);
    assert.equal(readFileSync(join(dir, f)).toString('ascii', 1, 4), 'PNG');
  }
  const text = readFileSync(html, 'utf8');
  assert.match(text, /<img src="loss.png"/);
  assert.match(text, /top-1/);
  assert.match(text, /50\.00 %/);
});

test('progress prints plain lines when not a TTY', () => {
  let out = '';
  const stream = {
    write: (s: string) => {
      out += s;
      return true;
    },
    isTTY: false,
  } as unknown as NodeJS.WriteStream;
  const bar = new ProgressBar('epoch 1', 4, { stream, plainEvery: 2 });
  for (let s = 1; s <= 4; s++) bar.update(s, 8, { loss: 1 / s, acc: 0.5, lr: 1e-4 });
  bar.done('done');
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 3);
  assert.match(
    lines[0],
    /^epoch 1 2\/4 \| [\d.]+ clips\/s \| loss 0\.5000 \| acc 50\.0% \| lr 1\.00e-4 \| /,
  );
  assert.ok(!out.includes('\r'));
});
