// Decode many small videos in ONE ffmpeg process (inputs 0..N-1 → outputs on pipes 3..N+2).
// ffmpeg's start-up (~50 ms on this machine) dwarfs decoding a 29-frame 256×256 clip, so
// batching is what makes `prepare` fast. Files that are obviously bad (missing, empty, not a
// video container) are answered without ffmpeg; if the batch process fails (one damaged input
// fails the whole process in strict mode), each file is decoded alone so only the bad ones fail.
// Memory: the batch's outputs share one MAX_DECODE_BYTES budget (opts.maxBytes); a batch that
// reaches it is stopped and its files decoded alone, each under the same bound, so a clip too
// big for it is refused ('too-large') and the others are kept.
import {
  MAX_DECODE_BYTES,
  VideoError,
  checkInputFile,
  checkComplete,
  classifyFailure,
  decodeInputArgs,
  decodeOutputArgs,
  decodeVideo,
  looksLikeVideoContainer,
  parseInputFacts,
  readHead,
  runPnmDecoder,
  type DecodeOptions,
  type DecodedVideo,
} from './video.js';
import { stackPnmFrames } from './video_pnm.js';

export type DecodeOutcome = DecodedVideo | VideoError;

async function precheck(file: string): Promise<VideoError | null> {
  try {
    await checkInputFile(file);
    const head = await readHead(file);
    if (!looksLikeVideoContainer(head))
      return new VideoError('corrupt', file, 'not a video file (unknown container signature)');
    return null;
  } catch (e) {
    if (e instanceof VideoError) return e;
    return new VideoError('corrupt', file, String(e));
  }
}

function runBatch(files: string[], opts: DecodeOptions & { maxBytes: number }) {
  const args = ['-hide_banner', '-nostdin', '-nostats', '-v', 'info'];
  if (opts.strict) args.push('-xerror');
  files.forEach((f) => args.push(...decodeInputArgs(f, opts)));
  files.forEach((_, i) => args.push(...decodeOutputArgs(i, opts, `pipe:${i + 3}`)));
  return runPnmDecoder(
    args,
    files[0],
    files.map((_, i) => i + 3),
    opts.maxBytes,
  );
}

/** Decode files (same options for all); each entry is the frames or the reason it failed. */
export async function decodeVideos(
  files: string[],
  options: DecodeOptions = {},
): Promise<DecodeOutcome[]> {
  const opts = { ...options, maxBytes: options.maxBytes ?? MAX_DECODE_BYTES };
  const out: DecodeOutcome[] = new Array(files.length);
  const ok: number[] = [];
  await Promise.all(
    files.map(async (f, i) => {
      const bad = await precheck(f);
      if (bad) out[i] = bad;
      else ok.push(i);
    }),
  );
  ok.sort((a, b) => a - b);
  if (ok.length > 1) {
    const batchFiles = ok.map((i) => files[i]);
    const r = await runBatch(batchFiles, opts);
    const errLines = r.stderr
      .split('\n')
      .filter((l) => /^\[.*\] .*(error|invalid|corrupt)|Error /i.test(l));
    if (!r.overBudget && r.code === 0 && !(opts.strict && errLines.length)) {
      let allGood = true;
      const res: DecodeOutcome[] = [];
      ok.forEach((fi, k) => {
        const img = r.outs[k].clean ? stackPnmFrames(r.outs[k].frames) : null;
        if (!img) {
          allGood = false;
          return;
        }
        try {
          checkComplete(files[fi], img.frames, parseInputFacts(r.stderr, k), opts);
          res.push({ ...img, fps: opts.fps ?? parseInputFacts(r.stderr, k).fps });
        } catch (e) {
          res.push(e as VideoError);
        }
      });
      if (allGood) {
        ok.forEach((fi, k) => (out[fi] = res[k]));
        return out;
      }
    }
  }
  // one at a time: isolates the damaged files (and, after a batch over the memory budget or
  // killed by a signal, the one too big, or decodes them all with less memory)
  for (const i of ok) {
    try {
      out[i] = await decodeVideo(files[i], opts);
    } catch (e) {
      out[i] = e instanceof VideoError ? e : classifyFailure(files[i], String(e));
    }
  }
  return out;
}
