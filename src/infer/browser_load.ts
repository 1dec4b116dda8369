// Open a LipReader in the browser from a URL or the bytes of an exported .onnx file.
import { OnnxLipReader } from './onnx_lipreader.js';
import { bytesSource, type GraphPart } from './onnx_model_source.js';
import { webPlatform, type WebPlatformOptions } from './ort_web.js';
import { ModelLoadError } from './types.js';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new ModelLoadError(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export type ModelInput = string | URL | Uint8Array;

/** Open a LipReader in the browser from a URL or bytes of an exported .onnx file. For
 *  streaming, the X.frontend.onnx / X.backend.onnx pair is fetched next to a URL on first use
 *  (or pass them explicitly). */
export async function loadLipReader(
  model: ModelInput,
  o: WebPlatformOptions & { frontend?: ModelInput; backend?: ModelInput } = {},
): Promise<OnnxLipReader> {
  const name = model instanceof Uint8Array ? 'model.onnx' : String(model);
  const bytes = model instanceof Uint8Array ? model : await fetchBytes(String(model));
  const part = (p: Exclude<GraphPart, 'full'>) => {
    const given = o[p];
    if (given instanceof Uint8Array) return given;
    const url = given
      ? String(given)
      : model instanceof Uint8Array
        ? undefined
        : name.replace(/\.onnx(\?.*)?$/, `.${p}.onnx$1`);
    return url ? () => fetchBytes(url) : undefined;
  };
  return OnnxLipReader.open(
    await webPlatform(o),
    bytesSource(bytes, name, { frontend: part('frontend'), backend: part('backend') }),
  );
}
