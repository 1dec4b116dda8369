// The int8 section of `eflip bench infer --int8`: the same weights exported, calibrated on the
// bench's random clips and quantized (src/cli/int8_export.ts), opened as an onnxruntime reader.
import { loadCheckpoint } from '../../io/onnx/checkpoint_weights.js';
import { OnnxLipReader } from '../../infer/onnx_lipreader.js';
import { bytesSource } from '../../infer/onnx_model_source.js';
import { nodePlatform } from '../../infer/ort_node.js';
import type { Clip } from '../../infer/types.js';
import type { OrtPlatform } from '../../infer/ort_types.js';
import { exportInt8, exportInt8Features } from '../int8_export.js';

/** Int8 readers of `weights`, one per platform (default: one on the CPU), calibrated on `clips`
 *  (already-normalised network inputs), with the int8 front-end/back-end pair calibrated on the
 *  same clips (streaming and front-end lanes use it). */
export async function openInt8Readers(
  weights: string,
  clips: Clip[],
  threads: number,
  platforms?: OrtPlatform[],
): Promise<OnnxLipReader[]> {
  const ck = loadCheckpoint(weights);
  const batches = clips.map((c) => ({
    data: c.data,
    dims: [1, c.channels, c.frames, c.size, c.size],
  }));
  const q = await exportInt8(ck, batches, { threads });
  let pair: ReturnType<typeof exportInt8Features> | null = null;
  const part = (k: 'frontend' | 'backend') => async () => {
    pair ??= exportInt8Features(ck, batches, { threads });
    return (await pair)[k].bytes;
  };
  const source = bytesSource(q.bytes, `${weights} (int8)`, {
    frontend: part('frontend'),
    backend: part('backend'),
  });
  const readers: OnnxLipReader[] = [];
  for (const p of platforms ?? [await nodePlatform('cpu', threads)])
    readers.push(await OnnxLipReader.open(p, source));
  return readers;
}
