#!/usr/bin/env node
// Part of scripts/gpu-check.sh: the libtorch LipReader (what `eflip predict --runtime torch`
// runs) on cuda vs cpu over the test clips of prepared shards. Shards need no ffmpeg, which a
// GPU machine may lack. Writes {clips, sameTop1, maxAbsProbDiff, ok} to OUT; exit 0 when every
// top-1 agrees and the top-5 probabilities differ by < 1e-3.
//   node scripts/gpu-parity.mjs MODEL SHARDS_DIR OUT.json [DEVICE]
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShardReader } from '../dist/src/data/index.js';
import { prepareFrames } from '../dist/src/infer/index.js';
import { TorchLipReader } from '../dist/src/infer/torch_lipreader.js';

const [model, shards, out, device = 'cuda'] = process.argv.slice(2);
if (!out) {
  console.error('usage: gpu-parity.mjs MODEL SHARDS_DIR OUT.json [DEVICE]');
  process.exit(2);
}
const cpu = await TorchLipReader.load(model, { device: 'cpu' });
const gpu = await TorchLipReader.load(model, { device });
const clips = [];
for (const f of readdirSync(join(shards, 'test')).sort()) {
  const r = new ShardReader(join(shards, 'test', f));
  const h = r.header;
  h.records.forEach((rec, i) => {
    const frames = { data: r.read(i), frames: rec.frames, height: h.height, width: h.width };
    clips.push(prepareFrames({ ...frames, channels: h.channels }, cpu.preprocessing));
  });
  r.close();
}
const t0 = performance.now();
const a = await cpu.predictBatch(clips);
const t1 = performance.now();
const b = await gpu.predictBatch(clips);
const t2 = performance.now();
let same = 0;
let worst = 0;
a.forEach((lp, i) => {
  const ta = cpu.topK(lp, 5);
  const tb = gpu.topK(b[i], 5);
  if (ta[0].label === tb[0].label) same++;
  for (const e of ta) {
    const o = tb.find((x) => x.label === e.label);
    worst = Math.max(worst, o ? Math.abs(o.probability - e.probability) : 1);
  }
});
const ok = clips.length > 0 && same === clips.length && worst < 1e-3;
const res = {
  clips: clips.length,
  devices: [cpu.device, gpu.device],
  sameTop1: same,
  maxAbsProbDiff: worst,
  ms: { cpu: Math.round(t1 - t0), [gpu.device]: Math.round(t2 - t1) },
  ok,
};
writeFileSync(out, JSON.stringify(res, null, 2));
console.log(JSON.stringify(res));
await cpu.dispose();
await gpu.dispose();
process.exit(ok ? 0 : 1);
