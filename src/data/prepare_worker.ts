// Worker for `prepare`: decode one shard's clips (batched ffmpeg), crop, write the shard.
import { answerTasks } from './pool.js';
import * as path from 'node:path';
import { decodeVideos } from './video_batch.js';
import { VideoError } from './video.js';
import { centreCrop, lrwMouthCrop, landmarkMouthCrop, toGray, type Frames } from './crop.js';
import { writeShard, type ShardClip } from './shard.js';
import type { PrepareTask } from './prepare.js';
import { landmarkCachePath, readLandmarksText, sha256File } from '../roi/landmarks_file.js';
import { FileReadError } from '../io/read_bounded.js';
import { printable, shownValue } from '../io/printable.js';

const BATCH = 16;

/** The landmarks of a decoded clip of `frames` frames: its file (beside it, or under
 *  --landmarks), else what eflip roi cached; every problem names the clip and the file. */
async function loadLandmarks(t: PrepareTask, clip: string, frames: number): Promise<number[][][]> {
  const rel = path.relative(t.root, clip).replace(/\.[^.]+$/, '.landmarks.json');
  let file = t.landmarks
    ? path.join(t.landmarks, rel)
    : clip.replace(/\.[^.]+$/, '.landmarks.json');
  // a file that is there but cannot be the clip's landmarks (a FIFO, /dev/zero, 400 MB) is
  // refused unread, saying so: never taken for a missing one
  const read = async (f: string) => {
    try {
      return await readLandmarksText(f, frames);
    } catch (e) {
      if (!(e instanceof FileReadError)) throw e;
      if (e.code === 'missing') return null;
      throw new VideoError('bad-args', clip, `landmarks file ${e.message}`);
    }
  };
  let text = await read(file);
  if (text === null && !t.landmarks) {
    // what `eflip roi CLIP --landmarks-only` left in the per-user landmark cache
    const cached = landmarkCachePath(await sha256File(clip).catch(() => ''));
    text = await read(cached);
    if (text === null)
      throw new VideoError(
        'bad-args',
        clip,
        `no landmarks: neither ${file} nor the landmark cache ${path.dirname(cached)} (run eflip roi --landmarks-only on the clips first)`,
      );
    file = cached;
  }
  if (text === null) throw new VideoError('bad-args', clip, `no landmarks file ${file}`);
  let j;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new VideoError(
      'bad-args',
      clip,
      `landmarks file ${file}: not JSON (${(e as Error).message})`,
    );
  }
  const lm = Array.isArray(j) ? j : j?.landmarks;
  if (!Array.isArray(lm) || !lm.every((f: unknown) => Array.isArray(f) && f.length === 68))
    throw new VideoError(
      'bad-args',
      clip,
      `landmarks file ${file}: no T×68×[x, y] points (${shownValue(j)})`,
    );
  return lm;
}

function cropClip(t: PrepareTask, v: Frames, lm?: number[][][]): Frames {
  let c: Frames;
  if (t.crop === 'landmarks') c = landmarkMouthCrop(v, lm!, { size: t.size });
  else if (t.crop === 'center') c = centreCrop(v, t.size);
  else c = lrwMouthCrop(v, t.size);
  return t.color ? c : toGray(c);
}

/** A clip the crop could not take, as one line naming it: kind 'landmarks' for its landmarks
 *  (missing, not JSON, not T×68×2, another frame count), 'crop' for frames the crop does not
 *  fit. Messages are printable() whole: a JSON error quotes the file's text. */
function cropSkip(
  t: PrepareTask,
  clip: string,
  e: unknown,
): { path: string; kind: string; reason: string } {
  const landmarks = t.crop === 'landmarks';
  const kind = landmarks ? 'landmarks' : 'crop';
  const why = printable((e as Error)?.message ?? String(e));
  if (e instanceof VideoError) return { path: clip, kind, reason: why }; // names the clip already
  // the crop's own words ('landmarks cover 5 frames, the clip has 29 ...')
  return { path: clip, kind, reason: `${printable(clip)}: ${why}` };
}

async function runTask(t: PrepareTask): Promise<{ records: number }> {
  const clips: ShardClip[] = [];
  const skipped: { path: string; reason: string; kind: string }[] = [];
  // landmark crops need colour-independent full frames; grey decode is cheaper when allowed
  const gray = !t.color;
  for (let i = 0; i < t.clips.length; i += BATCH) {
    const part = t.clips.slice(i, i + BATCH);
    const res = await decodeVideos(
      part.map((c) => c.path),
      { gray, fps: 25, strict: true },
    );
    for (let k = 0; k < part.length; k++) {
      const c = part[k],
        r = res[k];
      if (r instanceof VideoError) {
        // a decoder killed by a signal says nothing about the clip: the shard fails (it is not
        // written), so a rerun retries it instead of keeping a false 'corrupt' verdict
        if (r.kind === 'killed') throw r;
        skipped.push({ path: c.path, kind: r.kind, reason: r.message });
        continue;
      }
      try {
        const lm = t.crop === 'landmarks' ? await loadLandmarks(t, c.path, r.frames) : undefined;
        const f = cropClip(t, r, lm);
        clips.push({
          path: c.path,
          label: c.label,
          word: c.word,
          duration: c.duration,
          data: f.data,
          frames: f.frames,
        });
      } catch (e) {
        skipped.push(cropSkip(t, c.path, e));
      }
    }
  }
  await writeShard(
    t.file,
    {
      split: t.split,
      height: t.size,
      width: t.size,
      channels: t.color ? 3 : 1,
      fps: 25,
      crop: t.crop,
      skipped,
    },
    clips,
  );
  return { records: clips.length };
}

answerTasks(runTask);
