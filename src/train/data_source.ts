// Batches for the trainer from an LRW-layout tree (real LRW or `eflip synth`): clips are decoded
// once with ffmpeg (src/data/video.ts), grey or RGB (model.in_channels = 1 or 3), cropped
// (src/data/crop.ts) to the 96×96 mouth window (or the frame centre) and its centre (size + 8)²,
// kept in memory as uint8, and served as deterministic batches (B, C, T, H, W):
// order = seeded shuffle of (seed, epoch); augmentation = f(seed, epoch, clip index), so a
// resumed run sees exactly the batches an uninterrupted one would.
// For full LRW (~490k clips) use prepared shards and the data loader instead.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeVideo, framesMissing, VideoError } from '../data/video.js';
import { printable } from '../io/printable.js';
import { writeFileAtomic } from '../io/atomic.js';
import { cacheDir as eflipCacheDir } from '../io/cache_dir.js';
import { centreCrop, CropError, lrwMouthCrop, toGray, type Frames } from '../data/crop.js';
import { indexLrw, type Split } from '../data/lrw.js';
import { readWordFile, selectVocabulary, wordFileOf, type VocabSelection } from '../data/vocab.js';
import { Rng, mixSeed } from '../data/rng.js';
import { epochSteps } from '../data/batch.js';
import { maxThreads } from '../threads.js';
import { shardLength, shardOrder, type Shard } from '../data/sampler.js';
import { fromTypedArray } from '../engine/index.js';
import type { BatchSource, TrainBatch } from './batch_source.js';
import type { TrainConfig } from './config.js';
import { MODEL_FPS } from '../infer/preprocess.js';
import { makeDirs } from '../io/make_dirs.js';

/** One decoded, cropped clip: T·S·S·C uint8 (C = 1 grey or 3 RGB, interleaved like the shards)
 *  at the pre-crop side S (input size + 8, at most 96). */
export interface MemClip {
  data: Uint8Array;
  frames: number;
  side: number;
  /** 1 grey (default) or 3 RGB */
  channels?: number;
  label: number;
  duration?: number;
}

export interface SourceOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** input side fed to the network */
  size: number;
  frames: number;
  mean: number;
  std: number;
  augment: { randomCrop: boolean; hflip: number; timeMaskFrames: number } | null;
  /** drop a final partial batch while two full ones remain (training; the loader's rule, epochSteps) */
  dropLast: boolean;
  /** labels permuted by this seed (the shuffled-label control of the learning check) */
  shuffleLabelsSeed?: number | null;
  /** add a second channel: 1 on frames inside the word (from the .txt Duration, word centred), else 0 */
  wordBoundary?: boolean;
  /** data-parallel: this rank's part of every epoch (src/data/sampler.ts; padded when shuffling = training) */
  shard?: Shard;
}

export class MemoryClipSource implements BatchSource {
  readonly labels: number[];
  /** image channels of the clips (1 or 3); the batches add the word-boundary plane when asked */
  readonly channels: number;
  constructor(
    readonly items: MemClip[],
    readonly o: SourceOptions,
  ) {
    this.labels = items.map((c) => c.label);
    this.channels = items.length ? (items[0].channels ?? 1) : 1;
    const odd = items.find((c) => (c.channels ?? 1) !== this.channels);
    if (odd) throw new Error(`clips mix ${this.channels}- and ${odd.channels ?? 1}-channel frames`);
    if (o.shuffleLabelsSeed !== undefined && o.shuffleLabelsSeed !== null) {
      new Rng(mixSeed(o.shuffleLabelsSeed, 0x1abe1)).shuffle(this.labels);
    }
  }
  get clips(): number {
    return this.items.length;
  }
  get batchesPerEpoch(): number {
    return epochSteps(
      shardLength(this.items.length, this.o.shard, this.o.shuffle),
      this.o.batchSize,
      this.o.dropLast,
    );
  }

  /** Clip order of an epoch (this rank's part of it when sharded). */
  order(epoch: number): number[] {
    const idx = this.items.map((_, i) => i);
    const all = this.o.shuffle
      ? (new Rng(mixSeed(this.o.seed, epoch, 0x0de7)).shuffle(idx) as number[])
      : idx;
    return this.o.shard ? Array.from(shardOrder(all, this.o.shard, this.o.shuffle).indices) : all;
  }

  /** One clip → normalised float32 C·T·size·size (channel planes), augmented by f(seed, epoch, index);
   *  every channel gets the same crop, flip and time mask, and the same scalar mean/std. */
  fill(out: Float32Array, off: number, clip: MemClip, epoch: number, index: number): void {
    const { size, frames, mean, std } = this.o;
    const S = clip.side;
    const C = clip.channels ?? 1;
    const rng = new Rng(mixSeed(this.o.seed, epoch, index, 0xa06));
    const aug = this.o.augment;
    const maxOff = S - size;
    const top = aug?.randomCrop ? rng.int(maxOff + 1) : Math.floor(maxOff / 2);
    const left = aug?.randomCrop ? rng.int(maxOff + 1) : Math.floor(maxOff / 2);
    const flip = aug ? rng.bool(aug.hflip) : false;
    let maskStart = -1,
      maskLen = 0;
    if (aug && aug.timeMaskFrames > 0) {
      maskLen = rng.int(aug.timeMaskFrames + 1);
      maskStart = rng.int(Math.max(1, frames - maskLen + 1));
    }
    // temporal: centre `frames` of the clip, repeating the last frame when shorter
    const t0 = Math.max(0, Math.floor((clip.frames - frames) / 2));
    const inv = 1 / (255 * std);
    const m255 = mean * 255;
    // masked frames: the clip's mean, per channel
    const clipMean = new Float64Array(C);
    if (maskLen > 0) {
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let i = c; i < clip.data.length; i += C) sum += clip.data[i];
        clipMean[c] = (sum / (clip.data.length / C) - m255) * inv;
      }
    }
    const plane = frames * size * size;
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < frames; t++) {
        const dst = off + c * plane + t * size * size;
        if (maskLen > 0 && t >= maskStart && t < maskStart + maskLen) {
          out.fill(clipMean[c], dst, dst + size * size);
          continue;
        }
        const st = Math.min(clip.frames - 1, t0 + t);
        const fo = st * S * S;
        for (let y = 0; y < size; y++) {
          const row = fo + (top + y) * S + left;
          for (let x = 0; x < size; x++) {
            const v = clip.data[(row + (flip ? size - 1 - x : x)) * C + c];
            out[dst + y * size + x] = (v - m255) * inv;
          }
        }
      }
    }
  }

  /** Word-boundary plane: 1 on the frames of the (centred) word, 0 elsewhere; all 1 without a duration. */
  fillBoundary(out: Float32Array, off: number, clip: MemClip): void {
    const { size, frames } = this.o;
    const half = clip.duration !== undefined ? (clip.duration * 25) / 2 : Infinity;
    const centre = (frames - 1) / 2;
    for (let t = 0; t < frames; t++) {
      const v = Math.abs(t - centre) <= half + 0.5 ? 1 : 0;
      out.fill(v, off + t * size * size, off + (t + 1) * size * size);
    }
  }

  async *batches(epoch: number, skip: number): AsyncIterable<TrainBatch> {
    const order = this.order(epoch);
    const { batchSize, size, frames } = this.o;
    const I = this.channels;
    const C = I + (this.o.wordBoundary ? 1 : 0);
    for (let b = skip; b < this.batchesPerEpoch; b++) {
      const ids = order.slice(b * batchSize, (b + 1) * batchSize);
      const plane = frames * size * size;
      const x = new Float32Array(ids.length * C * plane);
      const y = new Array<number>(ids.length);
      ids.forEach((id, j) => {
        this.fill(x, j * C * plane, this.items[id], epoch, id);
        if (this.o.wordBoundary) this.fillBoundary(x, j * C * plane + I * plane, this.items[id]);
        y[j] = this.labels[id];
      });
      // (B, C, T, H, W)
      yield { x: fromTypedArray(x, [ids.length, C, frames, size, size]), y };
      // let the event loop breathe (SIGINT, progress)
      await new Promise((r) => setImmediate(r));
    }
  }
}

/** Mixup over a batch: partner = the batch reversed, λ ~ Beta(α, α) from (seed, step). */
export function mixupHook(
  alpha: number,
  seed: number,
): (b: TrainBatch, step: number) => TrainBatch {
  return (b, step) => {
    if (alpha <= 0) return b;
    const rng = new Rng(mixSeed(seed, step, 0x313));
    const lam = rng.beta(alpha, alpha);
    const B = b.y.length;
    const perm = Array.from({ length: B }, (_, i) => B - 1 - i);
    const mixed = b.x
      .mul(lam)
      .add(
        b.x
          .indexSelect(
            0,
            fromTypedArray(BigInt64Array.from(perm.map(BigInt)), [B], { device: b.x.device }),
          )
          .mul(1 - lam),
      );
    b.x.dispose();
    return { x: mixed, y: b.y, y2: perm.map((p) => b.y[p]), lam };
  };
}

/** Image channels the network's input takes from the video: 3 (RGB) when model.in_channels = 3, else 1 (grey);
 *  data.word_boundary adds its plane on top of these. */
export function imageChannels(cfg: TrainConfig): 1 | 3 {
  const c = cfg.model.in_channels;
  if (c !== 1 && c !== 3)
    throw new Error(
      `model.in_channels=${c}: the input is grey (1) or colour RGB (3); for a word-boundary channel keep 1 (or 3) and set data.word_boundary=true`,
    );
  return c;
}

/** data.words_list as a vocabulary selection: the words themselves, or one word file (vocab.ts's wordFileOf rule). */
export function wordsListSelection(list: string[]): VocabSelection {
  const file = list.length === 1 ? wordFileOf(list[0]) : null;
  if (file !== null)
    return { kind: 'list', words: readWordFile(file), where: `data.words_list file ${file}` };
  return { kind: 'list', words: list, where: `config key 'data.words_list'` };
}

export interface LoadedSplits {
  labels: string[];
  clips: Record<Split, MemClip[]>;
  /** pre-crop side kept in memory */
  side: number;
  /** clips that decoded fewer frames than their container promises (truncated or damaged files) */
  incomplete: { path: string; decoded: number; expected: number }[];
  /** clips left out, and why (the reason without the path): unreadable (VideoError) or frames
   *  the crop does not fit (CropError) */
  skipped: { path: string; reason: string }[];
  /** entries of the tree that are not clips (lrw.ts problems of kind 'skipped': odd word names,
   *  *.mp4 that are no regular file) */
  indexSkipped: { path: string; reason: string }[];
}

/** Decode the splits of an LRW-layout root once (grey, or RGB when model.in_channels = 3; cropped to
 *  the centre (size + 8)² of the mouth window). */
/** The first `limit` clips taking one of each word in turn (clips of a word in their order). */
function wordsInTurn<T extends { word: string }>(clips: T[], limit: number): T[] {
  const byWord = new Map<string, T[]>();
  for (const c of clips) {
    const list = byWord.get(c.word);
    if (list) list.push(c);
    else byWord.set(c.word, [c]);
  }
  const out: T[] = [];
  for (let k = 0; out.length < limit; k++) {
    let any = false;
    for (const list of byWord.values()) {
      if (k < list.length && out.length < limit) {
        out.push(list[k]);
        any = true;
      }
    }
    if (!any) break;
  }
  return out;
}

export async function loadLrwSplits(
  cfg: TrainConfig,
  splits: Split[],
  labels: string[] | null,
  log: (m: string) => void = () => {},
  /** at most this many clips per split, chosen before decoding: one clip of each word in turn
   *  (every word has one before any has two), in index order within a word */
  limit?: number,
): Promise<LoadedSplits> {
  const root = cfg.data.root;
  if (!root)
    throw new Error(`no data: set data.root=DIR (an LRW-layout tree, e.g. from 'eflip synth')`);
  const index = await indexLrw(root, { splits });
  let words = labels;
  if (!words) {
    if (cfg.data.words_list) {
      words = selectVocabulary(index.words, wordsListSelection(cfg.data.words_list), root);
    } else if (cfg.data.words !== null) {
      if (cfg.data.words > index.words.length)
        throw new Error(`data.words=${cfg.data.words} but ${root} has ${index.words.length} words`);
      words =
        cfg.data.words_select === 'random'
          ? (new Rng(mixSeed(cfg.seed, 0x7e5)).shuffle([...index.words]) as string[])
              .slice(0, cfg.data.words)
              .sort()
          : index.words.slice(0, cfg.data.words);
    } else words = index.words;
  }
  const missing = words.filter((w) => !index.words.includes(w));
  if (missing.length)
    throw new Error(
      `${missing.length} word(s) not under ${root}: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' ...' : ''}`,
    );
  const classOf = new Map(words.map((w, i) => [w, i]));
  // kept in memory: the centre (size + 8)² of the 96×96 window (random crops move ±4 px, like
  // 88 of 96); evaluation takes its centre size², the same pixels src/data and src/infer use
  if (cfg.data.size > 96)
    throw new Error(
      `data.size=${cfg.data.size}: inputs are crops of the 96×96 mouth window (≤ 96)`,
    );
  const side = Math.min(96, cfg.data.size + 8);
  const C = imageChannels(cfg);
  const colour = C === 3;
  const clips = { train: [], val: [], test: [] } as Record<Split, MemClip[]>;
  let todo = index.clips.filter((c) => classOf.has(c.word) && splits.includes(c.split));
  if (limit !== undefined)
    todo = splits.flatMap((s) =>
      wordsInTurn(
        todo.filter((c) => c.split === s),
        limit,
      ),
    );
  let done = 0;
  const t0 = Date.now();
  // concurrent ffmpeg decodes; a config from a bigger machine (eval reads the checkpoint's) is held to this one's bound
  const workers = Math.min(maxThreads(), Math.max(1, cfg.data.workers));
  let next = 0;
  const results: (MemClip | null)[] = new Array(todo.length).fill(null);
  const incomplete: LoadedSplits['incomplete'] = [];
  const skipped: LoadedSplits['skipped'] = [];
  if (cfg.data.crop === 'landmarks')
    throw new Error(
      `data.crop=landmarks needs landmark-cropped data; prepare it with 'eflip prepare --crop landmarks' and set data.shards`,
    );
  // the clip cache only saves time: one that cannot be written (read-only, full, not a directory)
  // is dropped with one warning naming it, and training goes on decoding every clip
  let cacheDir = cfg.data.cache ? process.env.EFLIP_CLIP_CACHE || eflipCacheDir('clips') : null;
  const dropCache = (e: unknown) => {
    if (!cacheDir) return;
    log(
      `warning: clip cache ${cacheDir} is not usable (${(e as Error).message.split('\n')[0]}); continuing without it — set data.cache=false to skip it, or EFLIP_CLIP_CACHE=DIR for another place`,
    );
    cacheDir = null;
  };
  if (cacheDir) {
    try {
      makeDirs(cacheDir);
    } catch (e) {
      dropCache(e);
    }
  }
  const work = async () => {
    while (next < todo.length) {
      const i = next++;
      const c = todo[i];
      // decoded, cropped clips are cached by (file, size, mtime, crop, side, channels)
      let cacheFile: string | null = null;
      if (cacheDir) {
        const st = statSync(c.path);
        const key = createHash('sha1')
          .update(
            `${c.path}|${st.size}|${st.mtimeMs}|${cfg.data.crop}|${side}${colour ? '|rgb' : ''}|${MODEL_FPS}fps`,
          )
          .digest('hex');
        cacheFile = join(cacheDir, key.slice(0, 2), `${key}.u8`);
        if (existsSync(cacheFile)) {
          let data = new Uint8Array(0);
          try {
            data = new Uint8Array(readFileSync(cacheFile));
          } catch {
            /* unreadable entry: decode again */
          }
          if (data.length % (side * side * C) === 0 && data.length > 0) {
            results[i] = {
              data,
              frames: data.length / (side * side * C),
              side,
              channels: C,
              label: classOf.get(c.word)!,
              duration: c.duration,
            };
            done++;
            continue;
          }
        }
      }
      let v, f: Frames;
      try {
        // resampled to the model's 25 frames/s, as `eflip prepare` and `eflip predict` decode
        v = await decodeVideo(c.path, { gray: !colour, fps: MODEL_FPS });
        f = {
          data: v.data,
          frames: v.frames,
          height: v.height,
          width: v.width,
          channels: v.channels,
        };
        if (!colour) f = toGray(f);
        f = cfg.data.crop === 'mouth' ? lrwMouthCrop(f, 96) : centreCrop(f, 96);
        f = centreCrop(f, side);
      } catch (e) {
        // like `eflip prepare`: an unreadable clip, or one whose frames the crop does not fit
        // (another frame size), is skipped and reported, never the end of the run
        // (ffmpeg's text may quote the file's name: printable, one line)
        if (e instanceof VideoError) skipped.push({ path: c.path, reason: printable(e.reason) });
        else if (e instanceof CropError) skipped.push({ path: c.path, reason: e.message });
        else throw e;
        done++;
        continue;
      }
      if (framesMissing(v.frames, v.expectedFrames ?? 0))
        incomplete.push({ path: c.path, decoded: v.frames, expected: v.expectedFrames! });
      const data = f.data;
      if (cacheFile && cacheDir) {
        try {
          writeFileAtomic(cacheFile, data);
        } catch (e) {
          dropCache(e); // an unwritable cache (read-only home, disk full) costs only time
        }
      }
      results[i] = {
        data,
        frames: f.frames,
        side,
        channels: C,
        label: classOf.get(c.word)!,
        duration: c.duration,
      };
      done++;
      if (done % 100 === 0 || done === todo.length)
        log(`decoded ${done}/${todo.length} clips (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  };
  await Promise.all(Array.from({ length: workers }, work));
  todo.forEach((c, i) => {
    if (results[i]) clips[c.split].push(results[i]!);
  });
  skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)); // workers finish in any order
  if (skipped.length)
    log(
      `warning: skipped ${skipped.length} clip(s) under ${printable(root)} (unreadable, or frames the crop does not fit): ${printable(skipped[0].path)}: ${skipped[0].reason}${skipped.length > 1 ? ` (+${skipped.length - 1} more)` : ''}`,
    );
  const noDuration = index.problems.filter(
    (p) => p.kind === 'no-duration' && classOf.has(p.path.split(/[\\/]/).at(-3) ?? ''),
  );
  if (noDuration.length)
    log(
      `note: ${noDuration.length} clip(s) under ${printable(root)} have no .txt with a readable Duration line (kept${cfg.data.word_boundary ? '; their word-boundary plane covers the whole clip' : ''}), e.g. ${printable(noDuration[0].path)}`,
    );
  const indexSkipped = index.problems
    .filter((p) => p.kind === 'skipped')
    .map((p) => ({ path: p.path, reason: p.reason }));
  if (indexSkipped.length)
    log(
      `warning: skipped ${indexSkipped.length} entr${indexSkipped.length > 1 ? 'ies' : 'y'} under ${printable(root)}: ${printable(indexSkipped[0].path)}: ${indexSkipped[0].reason}`,
    );
  return { labels: words, clips, side, incomplete, skipped, indexSkipped };
}
