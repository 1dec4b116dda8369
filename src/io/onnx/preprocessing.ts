// How frames are prepared before the network; travels in checkpoints ('preprocessing') and in
// ONNX metadata ('eflip.crop', 'eflip.normalisation'). No Node imports: used in the browser too.

export interface Preprocessing {
  /** crop of raw LRW-style frames (src/data/crop.ts): 'mouth' | 'center' | 'landmarks' */
  crop: string;
  size: number;
  mean: number;
  std: number;
}

export const DEFAULT_PREPROCESSING: Preprocessing = { crop: 'mouth', size: 88, mean: 0.421, std: 0.165 };
