// `eflip bench data`: clips/s for decoding LRW-size mp4 (one process per clip and batched),
// `prepare` (parallel shard writing), and the loader with every augmentation on; peak RSS.
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseOrHelp, BENCH_OPTIONS, defineCommand } from '../args.js';
import { synthCorpus } from '../../data/synth/index.js';
import { LRW_WORDS } from '../../data/lrw_words.js';
import { indexLrw } from '../../data/lrw.js';
import { decodeVideo, VideoError } from '../../data/video.js';
import { decodeVideos } from '../../data/video_batch.js';
import { prepare } from '../../data/prepare.js';
import { Loader } from '../../data/loader.js';
import { printable } from '../../io/printable.js';
import { removeOnSignal } from '../../io/temp_dir.js';

/** CPU seconds used so far by this process (all threads) and its waited-for children (ffmpeg). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  let children = 0;
  try {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    children = (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime (clock ticks)
  } catch {
    /* not Linux */
  }
  return (u.user + u.system) / 1e6 + children;
}

/** clips/s of wall time and per CPU-second (the machine is shared: CPU time is the stable figure) */
async function measure<T>(
  clips: () => number,
  fn: () => Promise<T>,
): Promise<{ result: T; perSec: number; perCpuSec: number }> {
  const c0 = cpuSeconds(),
    t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000,
    cpu = cpuSeconds() - c0;
  return {
    result,
    perSec: +(clips() / wall).toFixed(1),
    perCpuSec: +(clips() / Math.max(cpu, 1e-6)).toFixed(1),
  };
}

export const def = defineCommand({
  name: 'bench data',
  usage: 'bench data [--json] [--lrw ROOT] [--clips N] [--jobs N]',
  description:
    'Measure decode, prepare and augmenting-loader throughput (clips/s) and peak RSS. Without --lrw a small synthetic corpus is generated first.',
  options: {
    ...BENCH_OPTIONS,
    lrw: {
      type: 'string',
      help: 'existing LRW-layout root to measure on (default: synthesise one in a temp dir)',
    },
    clips: { type: 'int', help: 'clips to synthesise (4 words)', default: 96 },
    jobs: {
      type: 'threads',
      help: 'parallel workers for prepare and the loader (default: CPU count)',
    },
    batch: { type: 'int', help: 'loader batch size', default: 32 },
    'loader-clips': { type: 'int', help: 'clips to pull through the loader', default: 3000 },
    keep: { type: 'boolean', help: 'keep the temporary corpus and shards' },
  },
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  const jobs = o.jobs ?? os.availableParallelism();
  const log = (s: string) => {
    if (!o.json) console.error(s);
  };
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'eflip-bench-data-'));
  // Ctrl-C / SIGTERM end the process before the finally below: the temp corpus goes then too
  const signalsOff = removeOnSignal(tmp, {
    keep: !!o.keep,
    onKeep: (d) => console.error(`kept ${d}`),
  });
  const result: Record<string, unknown> = { cpus: os.availableParallelism(), jobs };
  try {
    let root = o.lrw;
    if (!root) {
      root = path.join(tmp, 'lrw');
      const per = Math.max(1, Math.ceil(o.clips / 4));
      log(`synthesising ${per * 4} clips ...`);
      const s = await synthCorpus({
        out: root,
        words: LRW_WORDS.slice(0, 4) as string[],
        train: per,
        val: 0,
        test: 0,
        seed: 7,
        jobs,
      });
      result.synth = { clips: s.written, clipsPerSec: +(s.written / s.seconds).toFixed(2) };
    }
    const idx = await indexLrw(root, { durations: false });
    const files = idx.clips.map((c) => c.path);
    // like `eflip prepare`: an unreadable clip is skipped, reported, and left out of the rates
    const unreadable = new Map<string, string>();
    const skip = (e: VideoError) => unreadable.set(e.file, printable(e.reason));

    log('decode: one ffmpeg process per clip ...');
    const n1 = Math.min(files.length, 24);
    let decoded1 = 0;
    const single = await measure(
      () => decoded1,
      async () => {
        for (const f of files.slice(0, n1)) {
          try {
            await decodeVideo(f, { gray: true, fps: 25 });
            decoded1++;
          } catch (e) {
            if (!(e instanceof VideoError)) throw e;
            skip(e);
          }
        }
      },
    );
    log('decode: batched (16 clips per process), one at a time ...');
    let decoded = 0;
    const batched = await measure(
      () => decoded,
      async () => {
        for (let i = 0; i < files.length; i += 16)
          for (const r of await decodeVideos(files.slice(i, i + 16), {
            gray: true,
            fps: 25,
            strict: true,
          }))
            if (r instanceof VideoError) skip(r);
            else decoded++;
      },
    );
    if (unreadable.size) {
      const [f, why] = [...unreadable][0];
      // on stderr also under --json (stdout is the JSON)
      console.error(
        `warning: skipped ${unreadable.size} unreadable clip(s) under ${printable(root)}: ${printable(f)}: ${why}${unreadable.size > 1 ? ` (+${unreadable.size - 1} more)` : ''}`,
      );
      result.skippedClips = [...unreadable].map(([p, reason]) => ({ path: p, reason }));
    }
    result.decode = {
      clips: decoded,
      singleProcessPerClip: { clipsPerSec: single.perSec, clipsPerCpuSec: single.perCpuSec },
      batched16: { clipsPerSec: batched.perSec, clipsPerCpuSec: batched.perCpuSec },
    };

    log(`prepare --jobs ${jobs} ...`);
    const shards = path.join(tmp, 'shards');
    let prepared = 0; // the clips prepare skips (unreadable) are not in its rate
    const pr = await measure(
      () => prepared,
      async () => {
        const r = await prepare({ lrw: root!, out: shards, jobs, shardSize: 16 });
        prepared = r.prepared;
        return r;
      },
    );
    result.prepare = {
      clips: pr.result.prepared,
      clipsPerSec: pr.perSec,
      clipsPerSecPerCore: +(pr.perSec / Math.min(jobs, os.availableParallelism())).toFixed(1),
      clipsPerCpuSec: pr.perCpuSec,
      target: '>= 30 clips/s per core',
    };

    const split = idx.clips.some((c) => c.split === 'train') ? 'train' : idx.clips[0].split;
    log(`loader (all augmentations, ${jobs} workers, batch ${o.batch}) ...`);
    const L = await Loader.open({
      data: { kind: 'shards', dir: shards, split },
      batchSize: o.batch,
      training: true,
      seed: 1,
      workers: jobs,
      dropLast: false,
      augment: {
        temporalCrop: 25,
        boundary: 'array',
        timeMask: { count: 2, maxFrames: 15 },
        mixup: { alpha: 0.4, p: 1 },
      },
    });
    let clips = 0,
      epoch = 0;
    for await (const _ of L.batches(epoch++)) {
      /* warm-up epoch: opens shards, JIT */
    }
    const lr = await measure(
      () => clips,
      async () => {
        while (clips < o['loader-clips'])
          for await (const b of L.batches(epoch++)) clips += b.labels.length;
      },
    );
    await L.close();
    result.loader = {
      clips,
      clipsPerSec: lr.perSec,
      clipsPerCpuSec: lr.perCpuSec,
      batch: o.batch,
      workers: jobs,
      augment: 'random crop 88, flip, 2 time masks, mixup, temporal crop 25, boundary',
      target: '>= 500 clips/s',
    };
    result.loadAverage = os.loadavg().map((x) => +x.toFixed(2));
    result.peakRssMiB = +(process.resourceUsage().maxRSS / 1024).toFixed(0);
    result.backend = 'ffmpeg (Debian) child processes, PGM/PPM frames over pipes';
  } finally {
    signalsOff();
    if (!o.keep) await fsp.rm(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
  if (o.json) console.log(JSON.stringify(result));
  else console.log(dataSummary(result));
  return 0;
}

/** The human-readable lines of `bench data` (without --json). */
function dataSummary(r: Record<string, unknown>): string {
  type Rate = { clipsPerSec: number; clipsPerCpuSec: number };
  const d = r.decode as { clips: number; singleProcessPerClip: Rate; batched16: Rate };
  const p = r.prepare as Rate & { clips: number; clipsPerSecPerCore: number; target: string };
  const l = r.loader as Rate & { clips: number; batch: number; workers: number; target: string };
  return [
    `eflip bench data: ${r.cpus} CPUs, ${r.jobs} jobs, load ${(r.loadAverage as number[]).join(' ')}, peak RSS ${r.peakRssMiB} MiB`,
    `  decode (${d.clips} clips): one ffmpeg per clip ${d.singleProcessPerClip.clipsPerSec} clips/s, 16 per process ${d.batched16.clipsPerSec} clips/s (${d.batched16.clipsPerCpuSec} per CPU-s)`,
    `  prepare (${p.clips} clips): ${p.clipsPerSec} clips/s, ${p.clipsPerSecPerCore} per core (target ${p.target})`,
    `  loader (batch ${l.batch}, ${l.workers} workers, all augmentations): ${l.clipsPerSec} clips/s (target ${l.target})`,
    `  (--json for every figure)`,
  ].join('\n');
}
