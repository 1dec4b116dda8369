import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { indexLrw, parseDuration, LrwError } from '../src/data/lrw.js';
import {
  parseWordsSpec,
  selectVocabulary,
  saveLabels,
  loadLabels,
  VocabError,
} from '../src/data/vocab.js';
import { LRW_WORDS } from '../src/data/lrw_words.js';
import {
  centreCrop,
  lrwMouthCrop,
  landmarkMouthCrop,
  cropWindow,
  CropError,
} from '../src/data/crop.js';
import { tempDir, patternClip } from './data_helpers.js';

test('Duration: line is found anywhere; garbled or missing → null', () => {
  assert.equal(parseDuration('Text:  ABOUT\nConf:  5\n\nDuration: 0.53 seconds\n'), 0.53);
  assert.equal(parseDuration('Duration: 0.4 seconds\nText: X'), 0.4);
  assert.equal(parseDuration('  duration:1.2'), 1.2);
  assert.equal(parseDuration('Text: ABOUT\nDuration: banana seconds'), null);
  assert.equal(parseDuration('Text: ABOUT'), null);
  assert.equal(parseDuration('Duration: 0 seconds'), null);
});

test('indexLrw walks WORD/{train,val,test}, keeps clips with missing/garbled transcripts and reports them', async () => {
  const root = tempDir('lrw');
  const mk = (word: string, split: string, n: number, txt: string | null) => {
    mkdirSync(path.join(root, word, split), { recursive: true });
    const f = path.join(root, word, split, `${word}_${String(n).padStart(5, '0')}`);
    writeFileSync(f + '.mp4', 'x');
    if (txt !== null) writeFileSync(f + '.txt', txt);
  };
  mk('WATER', 'train', 1, 'Text: WATER\n\nDuration: 0.31 seconds\n');
  mk('WATER', 'test', 1, null);
  mk('ABOUT', 'train', 2, 'garbage');
  mk('ABOUT', 'train', 1, 'Conf: 3\nDuration: 0.50 seconds');
  mk('ABOUT', 'val', 1, 'Duration: 0.2');
  const idx = await indexLrw(root);
  assert.deepEqual(idx.words, ['ABOUT', 'WATER']);
  assert.deepEqual(
    idx.clips.map((c) => [c.word, c.split, path.basename(c.path), c.duration ?? null]),
    [
      ['ABOUT', 'train', 'ABOUT_00001.mp4', 0.5],
      ['ABOUT', 'train', 'ABOUT_00002.mp4', null],
      ['ABOUT', 'val', 'ABOUT_00001.mp4', 0.2],
      ['WATER', 'train', 'WATER_00001.mp4', 0.31],
      ['WATER', 'test', 'WATER_00001.mp4', null],
    ],
  );
  assert.equal(idx.problems.length, 2);
  assert.ok(
    idx.problems.some((p) => /missing \.txt/.test(p.reason)) &&
      idx.problems.some((p) => /Duration/.test(p.reason)),
  );
  const only = await indexLrw(root, { words: ['WATER'], splits: ['train'] });
  assert.equal(only.clips.length, 1);
  await assert.rejects(indexLrw(root, { words: ['NOPE'] }), LrwError);
  await assert.rejects(indexLrw(path.join(root, 'missing')), LrwError);
});

test('vocabulary selection: all sorted, first N, seeded random N, explicit list and file', async () => {
  assert.equal(LRW_WORDS.length, 500);
  assert.deepEqual([...LRW_WORDS], [...LRW_WORDS].sort());
  const words = ['WATER', 'ABOUT', 'PEOPLE', 'HOUSE', 'MONEY'];
  assert.deepEqual(selectVocabulary(words, await parseWordsSpec('all')), [
    'ABOUT',
    'HOUSE',
    'MONEY',
    'PEOPLE',
    'WATER',
  ]);
  assert.deepEqual(selectVocabulary(words, await parseWordsSpec('2')), ['ABOUT', 'HOUSE']);
  const r1 = selectVocabulary(LRW_WORDS, await parseWordsSpec('random:10:7'));
  const r2 = selectVocabulary(LRW_WORDS, await parseWordsSpec('random:10:7'));
  const r3 = selectVocabulary(LRW_WORDS, await parseWordsSpec('random:10:8'));
  assert.deepEqual(r1, r2);
  assert.notDeepEqual(r1, r3);
  assert.equal(new Set(r1).size, 10);
  assert.deepEqual(selectVocabulary(words, await parseWordsSpec('WATER,ABOUT')), [
    'WATER',
    'ABOUT',
  ]);
  const dir = tempDir('vocab');
  const f = path.join(dir, 'labels.txt');
  await saveLabels(f, ['MONEY', 'HOUSE']);
  assert.deepEqual(await loadLabels(f), ['MONEY', 'HOUSE']);
  assert.deepEqual(selectVocabulary(words, await parseWordsSpec('@' + f)), ['MONEY', 'HOUSE']);
  assert.throws(() => selectVocabulary(words, { kind: 'list', words: ['NOPE'] }), VocabError);
  assert.throws(() => selectVocabulary(words, { kind: 'first', n: 6 }), VocabError);
});

test('crops: centre 88, LRW mouth window rows 115-211 cols 79-175, landmark ROI', () => {
  const T = 2,
    data = patternClip(T, 256, 256, 1);
  const v = { data, frames: T, height: 256, width: 256, channels: 1 };
  const px = (t: number, y: number, x: number) => data[(t * 256 + y) * 256 + x];
  const c = centreCrop(v, 88);
  assert.deepEqual([c.height, c.width], [88, 88]);
  assert.equal(c.data[0], px(0, 84, 84));
  const m = lrwMouthCrop(v, 96);
  assert.equal(m.data[0], px(0, 115, 79));
  assert.equal(m.data[T * 96 * 96 - 1], px(1, 210, 174));
  const m88 = lrwMouthCrop(v, 88);
  assert.equal(m88.data[0], px(0, 119, 83));
  assert.throws(() => cropWindow(v, 200, 0, 96, 96), CropError);
  // landmarks: a frame with one bright dot at the mouth centre (163, 127); eyes level at 80 px
  const img = new Uint8Array(256 * 256);
  img[163 * 256 + 127] = 255;
  const lm: number[][][] = [
    Array.from({ length: 68 }, (_, i) =>
      i >= 36 && i <= 41
        ? [87, 110]
        : i >= 42 && i <= 47
          ? [167, 110]
          : i >= 48
            ? [127, 163]
            : [0, 0],
    ),
  ];
  const roi = landmarkMouthCrop(
    { data: img, frames: 1, height: 256, width: 256, channels: 1 },
    lm,
    { size: 96, eyeDistance: 80 },
  );
  let best = 0,
    at = -1;
  roi.data.forEach((p, i) => {
    if (p > best) {
      best = p;
      at = i;
    }
  });
  const [ry, rx] = [Math.floor(at / 96), at % 96];
  assert.ok(
    Math.abs(ry - 47.5) <= 1 && Math.abs(rx - 47.5) <= 1,
    `mouth centre lands at the ROI centre, got (${ry}, ${rx})`,
  );
  // rotated + scaled face: eyes 160 px apart → the ROI samples at half resolution, dot still centred
  const lm2: number[][][] = [
    lm[0].map(([x, y], i) =>
      i >= 36 && i <= 41 ? [47, 110] : i >= 42 && i <= 47 ? [207, 110] : [x, y],
    ),
  ];
  const img2 = new Uint8Array(256 * 256);
  for (let y = 161; y <= 165; y++) for (let x = 125; x <= 129; x++) img2[y * 256 + x] = 255;
  const roi2 = landmarkMouthCrop(
    { data: img2, frames: 1, height: 256, width: 256, channels: 1 },
    lm2,
    { size: 96, eyeDistance: 80 },
  );
  assert.equal(roi2.data[10 * 96 + 10], 0);
  assert.ok(
    roi2.data[47 * 96 + 47] +
      roi2.data[48 * 96 + 48] +
      roi2.data[47 * 96 + 48] +
      roi2.data[48 * 96 + 47] >
      0,
  );
  assert.throws(
    () =>
      landmarkMouthCrop({ data: img, frames: 1, height: 256, width: 256, channels: 1 }, [
        lm[0],
        lm[0],
      ]),
    CropError,
  );
});
