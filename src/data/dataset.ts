// Clip sources for the loader: prepared shards (fast, random access) or LRW mp4 files decoded
// on the fly (small sets, no prepare). A DatasetSpec is plain data so workers can open it too.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ShardReader } from './shard.js';
import { indexLrw, type Split } from './lrw.js';
import { decodeVideo, VideoError } from './video.js';
import { decodeVideos } from './video_batch.js';
import { centreCrop, lrwMouthCrop, toGray } from './crop.js';
import { checkUniqueWords, readLabelText, selectVocabulary } from './vocab.js';
import { unfinishedPreparation } from './prepare.js';
import type { ClipIn } from './augment.js';

export type DatasetSpec =
  | { kind: 'shards'; dir: string; split: Split }
  | {
      kind: 'lrw';
      root: string;
      split: Split;
      words?: string[];
      crop?: 'mouth' | 'center';
      size?: number;
      cache?: boolean;
      color?: boolean;
    };

export interface ItemMeta {
  path: string;
  label: number;
  duration: number | null;
}

export interface Dataset {
  labels: string[];
  items: ItemMeta[];
  /** channels of every clip: 1 grey, 3 RGB (prepared with --color) */
  channels: number;
  /** side of every stored frame when known up front (shards: the prepared --size) */
  side?: number;
  read(i: number): ClipIn | Promise<ClipIn>;
  /** optional: fetch several items at once (mp4 sources decode them in one ffmpeg process) */
  readMany?(indices: number[]): Promise<ClipIn[]>;
  close(): void;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** A prepared directory without shards for a split (val/test may be absent; a corrupt shard is another error). */
export class MissingSplitError extends DatasetError {
  override name = 'MissingSplitError';
}

class ShardDataset implements Dataset {
  labels: string[];
  items: ItemMeta[] = [];
  channels = 0;
  side = 0;
  private readers: ShardReader[] = [];
  private where: [number, number][] = [];
  constructor(dir: string, split: Split) {
    const lf = path.join(dir, 'labels.txt');
    if (!existsSync(lf))
      throw new DatasetError(
        `${dir}: no labels.txt — not a prepared directory (run eflip prepare)`,
      );
    this.labels = readLabelText(readFileSync(lf, 'utf8'));
    if (!this.labels.length) throw new DatasetError(`${lf}: no labels (re-run eflip prepare)`);
    checkUniqueWords(this.labels, lf);
    const sdir = path.join(dir, split);
    const files = existsSync(sdir)
      ? readdirSync(sdir)
          .filter((n) => /^shard-\d+\.bin$/.test(n))
          .sort()
      : [];
    if (!files.length) throw new MissingSplitError(`${sdir}: no shards for split '${split}'`);
    try {
      files.forEach((f, si) => {
        const r = new ShardReader(path.join(sdir, f));
        this.readers.push(r);
        const h = r.header,
          h0 = this.readers[0].header;
        if (si === 0) {
          this.channels = h.channels;
          this.side = Math.min(h.height, h.width);
        }
        // every shard of a split must hold clips of one layout (a batch stacks them)
        else if (h.channels !== h0.channels)
          throw new DatasetError(
            `${sdir}: ${files[0]} holds ${h0.channels}-channel clips but ${f} holds ${h.channels}-channel clips (mixed preparations; re-run eflip prepare into a new --out)`,
          );
        else if (h.height !== h0.height || h.width !== h0.width)
          throw new DatasetError(
            `${sdir}: ${files[0]} holds ${h0.width}×${h0.height} clips but ${f} holds ${h.width}×${h.height} clips (mixed preparations; re-run eflip prepare into a new --out)`,
          );
        h.records.forEach((rec, ri) => {
          if (rec.label >= this.labels.length)
            throw new DatasetError(
              `shard ${path.join(sdir, f)}: record ${ri} (${rec.path}) has label ${rec.label} but ${lf} lists ${this.labels.length} words (mixed preparations; re-run eflip prepare into a new --out)`,
            );
          this.items.push({ path: rec.path, label: rec.label, duration: rec.duration });
          this.where.push([si, ri]);
        });
      });
    } catch (e) {
      this.close();
      throw e;
    }
    if (!this.items.length)
      throw new DatasetError(
        `${sdir}: the shards hold no clips (every clip of split '${split}' was skipped at prepare time; see ${path.join(dir, 'summary.json')})`,
      );
  }
  read(i: number): ClipIn {
    const [si, ri] = this.where[i];
    const r = this.readers[si];
    const h = r.header;
    return {
      data: r.read(ri),
      frames: h.records[ri].frames,
      height: h.height,
      width: h.width,
      channels: h.channels,
      duration: h.records[ri].duration,
    };
  }
  close(): void {
    for (const r of this.readers) r.close();
  }
}

class Mp4Dataset implements Dataset {
  private cache = new Map<number, ClipIn>();
  readonly channels: number;
  private readonly gray: boolean;
  constructor(
    readonly labels: string[],
    readonly items: ItemMeta[],
    private spec: Extract<DatasetSpec, { kind: 'lrw' }>,
  ) {
    this.gray = !spec.color;
    this.channels = spec.color ? 3 : 1;
  }
  async read(i: number): Promise<ClipIn> {
    const hit = this.cache.get(i);
    if (hit) return hit;
    const clip = this.toClip(
      await decodeVideo(this.items[i].path, { gray: this.gray, fps: 25 }),
      i,
    );
    if (this.spec.cache) this.cache.set(i, clip);
    return clip;
  }
  async readMany(indices: number[]): Promise<ClipIn[]> {
    const missing = [...new Set(indices.filter((i) => !this.cache.has(i)))];
    const got = new Map<number, ClipIn>();
    if (missing.length) {
      const res = await decodeVideos(
        missing.map((i) => this.items[i].path),
        { gray: this.gray, fps: 25 },
      );
      res.forEach((r, k) => {
        if (r instanceof VideoError) throw r;
        const clip = this.toClip(r, missing[k]);
        got.set(missing[k], clip);
        if (this.spec.cache) this.cache.set(missing[k], clip);
      });
    }
    return indices.map((i) => this.cache.get(i) ?? got.get(i)!);
  }
  private toClip(v: Awaited<ReturnType<typeof decodeVideo>>, i: number): ClipIn {
    const size = this.spec.size ?? 96;
    const c0 =
      (this.spec.crop ?? 'mouth') === 'mouth' ? lrwMouthCrop(v, size) : centreCrop(v, size);
    const c = this.gray ? toGray(c0) : c0;
    return { ...c, duration: this.items[i].duration };
  }
  close(): void {
    this.cache.clear();
  }
}

export async function openDataset(spec: DatasetSpec): Promise<Dataset> {
  if (spec.kind === 'shards') {
    // an interrupted prepare leaves finished shards that read like a complete (smaller) set
    const unfinished = await unfinishedPreparation(spec.dir, spec.split);
    if (unfinished) throw new DatasetError(unfinished);
    return new ShardDataset(spec.dir, spec.split);
  }
  const all = await indexLrw(spec.root, { splits: [spec.split], durations: false });
  const labels = spec.words
    ? selectVocabulary(all.words, { kind: 'list', words: spec.words })
    : all.words;
  const idx = await indexLrw(spec.root, { words: labels, splits: [spec.split] });
  const labelOf = new Map(labels.map((w, i) => [w, i]));
  return new Mp4Dataset(
    labels,
    idx.clips.map((c) => ({
      path: c.path,
      label: labelOf.get(c.word)!,
      duration: c.duration ?? null,
    })),
    spec,
  );
}
