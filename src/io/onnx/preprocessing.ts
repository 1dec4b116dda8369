// How frames are prepared before the network; travels in checkpoints ('preprocessing') and in
// ONNX metadata ('eflip.crop', 'eflip.normalisation', 'eflip.grey'). No Node imports: used in the browser too.

export interface Preprocessing {
  /** crop of raw LRW-style frames (src/data/crop.ts): 'mouth' | 'center' | 'landmarks' */
  crop: string;
  size: number;
  mean: number;
  std: number;
  /** colour → grey for grey models (GREY_KINDS): 'bt601' (8-bit luma: ffmpeg's grey for video
   *  files, rounded 0.299/0.587/0.114 for RGB frames) or 'torchvision' (0.2989/0.587/0.114 on RGB
   *  floats, not rounded: torchvision's rgb_to_grayscale, as the reference implementation reads clips) */
  grey: GreyKind;
}

export type GreyKind = 'bt601' | 'torchvision';
export const GREY_KINDS: readonly GreyKind[] = ['bt601', 'torchvision'];

export const DEFAULT_PREPROCESSING: Preprocessing = {
  crop: 'mouth',
  size: 88,
  mean: 0.421,
  std: 0.165,
  grey: 'bt601',
};

/** The reference implementation's reading of LRW clips: the centre 88×88 of the 256×256 frame
 *  (rows/cols 84–172), mean 0.4161 / std 0.1688, torchvision's grey (docs/design.md). */
export const REFERENCE_PREPROCESSING: Preprocessing = {
  crop: 'center',
  size: 88,
  mean: 0.4161,
  std: 0.1688,
  grey: 'torchvision',
};

/** The crop rules eflip knows (the training config's data.crop choices). */
export const CROP_KINDS: readonly string[] = ['mouth', 'center', 'landmarks'];
/** Largest input crop accepted from a model file. */
export const MAX_CROP_SIZE = 1024;

export class PreprocessingError extends Error {
  override name = 'PreprocessingError';
}

/**
 * Pre-processing facts from a model file (a stranger's input): an object of known keys, missing
 * ones take the defaults; crop a known rule, size an integer in [8, 1024], mean finite, std
 * finite and > 0. `where` names the file and key for the message.
 */
export function checkPreprocessing(raw: unknown, where: string): Preprocessing {
  if (raw === undefined) return { ...DEFAULT_PREPROCESSING };
  const bad = (msg: string): never => {
    throw new PreprocessingError(`${where}: ${msg}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    bad(
      `must be an object {crop, size, mean, std, grey}, got ${JSON.stringify(raw)?.slice(0, 60)}`,
    );
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(k in DEFAULT_PREPROCESSING))
      bad(`unknown key '${k.slice(0, 60)}' (known: crop, size, mean, std, grey)`);
  const p = { ...DEFAULT_PREPROCESSING, ...o } as Record<string, unknown>;
  if (typeof p.crop !== 'string' || !CROP_KINDS.includes(p.crop))
    bad(`unknown crop ${JSON.stringify(p.crop)?.slice(0, 60)} (known: ${CROP_KINDS.join(', ')})`);
  if (!Number.isInteger(p.size) || (p.size as number) < 8 || (p.size as number) > MAX_CROP_SIZE)
    bad(
      `size must be an integer in [8, ${MAX_CROP_SIZE}], got ${JSON.stringify(p.size)?.slice(0, 60)}`,
    );
  if (typeof p.mean !== 'number' || !Number.isFinite(p.mean))
    bad(`mean must be a finite number, got ${JSON.stringify(p.mean)?.slice(0, 60)}`);
  if (typeof p.std !== 'number' || !Number.isFinite(p.std) || !(p.std > 0))
    bad(`std must be a finite number > 0, got ${JSON.stringify(p.std)?.slice(0, 60)}`);
  if (typeof p.grey !== 'string' || !GREY_KINDS.includes(p.grey as GreyKind))
    bad(
      `unknown grey conversion ${JSON.stringify(p.grey)?.slice(0, 60)} (known: ${GREY_KINDS.join(', ')})`,
    );
  return {
    crop: p.crop as string,
    size: p.size as number,
    mean: p.mean as number,
    std: p.std as number,
    grey: p.grey as GreyKind,
  };
}
