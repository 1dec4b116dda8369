// `eflip montage`: a PNG of mouth crops (rows = clips of several words/speakers, columns =
// frames over time) for humans to check a corpus by eye.
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { atFileInput, guardOutputs } from '../../io/output_path.js';
import { indexLrw } from '../../data/lrw.js';
import { decodeVideo } from '../../data/video.js';
import { centreCrop, lrwMouthCrop, type Frames } from '../../data/crop.js';
import { encodePng } from '../../io/png.js';
import { parseWordsSpec, selectVocabulary } from '../../data/vocab.js';

export const def = defineCommand({
  name: 'montage',
  usage:
    'montage --lrw ROOT --out FILE.png [--words ...] [--per-word K] [--split test] [--step S] [--crop mouth|center|full]',
  description:
    'Write a PNG montage: one row per clip (K clips of each word, usually different speakers), every S-th frame of its crop.',
  options: {
    lrw: { type: 'string', help: 'LRW-layout root (e.g. from eflip synth)' },
    out: { type: 'string', help: 'output PNG', default: 'montage.png' },
    words: { type: 'string', help: 'N, random:N[:SEED], A,B,C or @file', default: '6' },
    'per-word': { type: 'int', help: 'clips per word', default: 3 },
    split: {
      type: 'string',
      help: 'split to draw from',
      default: 'test',
      choices: ['train', 'val', 'test'],
    },
    step: { type: 'int', help: 'take every S-th frame', default: 3 },
    crop: {
      type: 'string',
      help: 'LRW mouth window 96x96, centre 88x88, or the full frame',
      default: 'mouth',
      choices: ['mouth', 'center', 'full'],
    },
  },
  examples: ['eflip montage --lrw /tmp/synth --out /tmp/mouths.png --words 6 --per-word 3'],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (!o.lrw) throw new UsageError('--lrw ROOT is required');
  guardOutputs(
    [{ flag: '--out', path: o.out }],
    [{ flag: '--lrw', path: o.lrw }, ...atFileInput('--words', o.words)],
  );
  const split = o.split;
  const all = await indexLrw(o.lrw, { splits: [split], durations: false });
  const words = selectVocabulary(all.words, await parseWordsSpec(o.words));
  const rows: Frames[] = [];
  for (const w of words) {
    const clips = all.clips.filter((c) => c.word === w).slice(0, o['per-word']);
    for (const c of clips) {
      const v = await decodeVideo(c.path, { fps: 25 });
      rows.push(
        o.crop === 'mouth' ? lrwMouthCrop(v, 96) : o.crop === 'center' ? centreCrop(v, 88) : v,
      );
    }
  }
  if (!rows.length) throw new UsageError('no clips to show');
  const step = Math.max(1, o.step);
  const cols = Math.max(...rows.map((r) => Math.ceil(r.frames / step)));
  const th = rows[0].height,
    tw = rows[0].width,
    gap = 2;
  const H = rows.length * (th + gap),
    W = cols * (tw + gap);
  const img = new Uint8Array(H * W * 3).fill(32);
  rows.forEach((r, ri) => {
    for (let ci = 0; ci * step < r.frames; ci++) {
      const f = ci * step;
      for (let y = 0; y < th; y++)
        for (let x = 0; x < tw; x++)
          for (let ch = 0; ch < 3; ch++) {
            const src = r.data[((f * th + y) * tw + x) * r.channels + (r.channels === 3 ? ch : 0)];
            img[((ri * (th + gap) + y) * W + ci * (tw + gap) + x) * 3 + ch] = src;
          }
    }
  });
  writeFileAtomic(o.out, encodePng(img, W, H, 3));
  console.log(
    `montage: ${rows.length} clips × ${cols} frames (every ${step}) → ${o.out} (${W}x${H}); rows: ${words.map((w) => `${w}×${Math.min(o['per-word'], all.clips.filter((c) => c.word === w).length)}`).join(', ')}`,
  );
  return 0;
}
