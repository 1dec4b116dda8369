// Synthetic speakers: everything that differs between people and recordings. A speaker is a
// pure function of its id, so a corpus is reproducible and train/val/test can use disjoint ids.
import { Rng, mixSeed } from '../rng.js';

export type RGB = [number, number, number];

export interface Speaker {
  id: number;
  /** face ellipse half-axes (pixels at the canonical 256×256 scale) */
  faceW: number;
  faceH: number;
  /** vertical offset of eyes / mouth from the face centre */
  eyeY: number;
  eyeX: number;
  mouthY: number;
  /** mouth half-width at rest, lip thicknesses, max opening */
  mouthW: number;
  upperLip: number;
  lowerLip: number;
  maxOpen: number;
  /** how much this speaker articulates (scales opening/width/rounding excursions) */
  articulation: number;
  /** speaking rate factor */
  rate: number;
  skin: RGB;
  lip: RGB;
  hair: RGB;
  iris: RGB;
  background: [RGB, RGB];
  hairline: number;
  /** light direction (x, y) and contrast */
  light: [number, number];
  contrast: number;
  brightness: number;
  /** recording: sensor noise σ, blur passes, x264 crf */
  noise: number;
  blur: number;
  crf: number;
  /** head motion amplitude (pixels / degrees) */
  motion: number;
}

const SKINS: RGB[] = [
  [236, 200, 175],
  [222, 178, 145],
  [196, 146, 110],
  [160, 110, 80],
  [120, 80, 58],
  [88, 58, 42],
  [245, 210, 190],
];
const HAIRS: RGB[] = [
  [30, 22, 18],
  [70, 45, 25],
  [120, 85, 50],
  [190, 160, 110],
  [110, 110, 110],
  [15, 15, 15],
  [150, 70, 35],
];

function jitterColor(rng: Rng, c: RGB, amt: number): RGB {
  return c.map((x) => Math.max(0, Math.min(255, x + rng.normal(0, amt)))) as RGB;
}

export function makeSpeaker(id: number, corpusSeed = 0): Speaker {
  const rng = new Rng(mixSeed(corpusSeed, 0x5eed, id));
  const skin = jitterColor(rng, rng.pick(SKINS), 10);
  const lipBase: RGB = [skin[0] * 0.75 + 30, skin[1] * 0.55 + 5, skin[2] * 0.6 + 12];
  return {
    id,
    faceW: rng.uniform(66, 84),
    faceH: rng.uniform(92, 110),
    eyeY: rng.uniform(-30, -20),
    eyeX: rng.uniform(26, 34),
    mouthY: rng.uniform(33, 40),
    mouthW: rng.uniform(25, 32),
    upperLip: rng.uniform(4, 7.5),
    lowerLip: rng.uniform(5, 9.5),
    maxOpen: rng.uniform(20, 28),
    articulation: rng.uniform(0.8, 1.2),
    rate: rng.uniform(0.85, 1.2),
    skin,
    lip: jitterColor(rng, lipBase, 12),
    hair: jitterColor(rng, rng.pick(HAIRS), 8),
    iris: jitterColor(
      rng,
      rng.pick([
        [60, 40, 20],
        [50, 90, 140],
        [70, 110, 70],
        [40, 30, 25],
      ] as RGB[]),
      10,
    ),
    background: [
      jitterColor(rng, [rng.uniform(20, 220), rng.uniform(20, 220), rng.uniform(20, 220)], 5),
      jitterColor(rng, [rng.uniform(20, 220), rng.uniform(20, 220), rng.uniform(20, 220)], 5),
    ],
    hairline: rng.uniform(-95, -68),
    light: [rng.uniform(-0.6, 0.6), rng.uniform(-0.7, 0.1)],
    contrast: rng.uniform(0.75, 1.15),
    brightness: rng.uniform(0.8, 1.15),
    noise: rng.uniform(0.5, 4),
    blur: rng.int(3),
    crf: Math.round(rng.uniform(18, 28)),
    motion: rng.uniform(0.3, 1.5),
  };
}

/** Speaker ids for a split: disjoint ranges, so no person appears in two splits. */
export function splitSpeakerIds(split: 'train' | 'val' | 'test', count: number): number[] {
  const base = split === 'train' ? 0 : split === 'val' ? 1_000_000 : 2_000_000;
  return Array.from({ length: count }, (_, i) => base + i);
}
