// Checkpoint → ONNX bytes: the full model, or the front-end/back-end pair used by streaming.
// Metadata props carry everything a deployment needs to use the file alone.
import { GraphBuilder, buildModel } from './graph_builder.js';
import { encodeModel, type ModelProto } from './onnx_proto.js';
import type { LoadedCheckpoint } from './checkpoint_weights.js';
import { emitNetwork, type GraphKind } from './network_graph.js';

export const EFLIP_VERSION = '0.1.0';

/** Metadata keys written into every exported file (values are strings; JSON where structured). */
const weightIds = new WeakMap<LoadedCheckpoint, string>();

/** Two 32-bit multiply–xor lanes over 32-bit words (not cryptographic: it tells apart exports,
 *  it does not authenticate them; node:crypto is not in the browser bundle). */
class WordHash {
  private a = 0x9e3779b9;
  private b = 0x85ebca6b;
  words(w: Uint32Array): void {
    let a = this.a,
      b = this.b;
    for (let i = 0; i < w.length; i++) {
      a = Math.imul(a ^ w[i], 0x01000193);
      b = Math.imul(b + w[i], 0xcc9e2d51) ^ (b >>> 15);
    }
    this.a = a ^ w.length;
    this.b = b;
  }
  text(s: string): void {
    this.words(Uint32Array.from(s, (c) => c.codePointAt(0)!));
  }
  hex(): string {
    return [this.a, this.b].map((v) => (v >>> 0).toString(16).padStart(8, '0')).join('');
  }
}

/** What every graph exported from one checkpoint shares (`eflip.weights`): a digest of the
 *  weights (names, shapes, values), config, labels and preprocessing, so that a front-end and
 *  a back-end from different exports are never run as one model. */
export function weightsId(ck: LoadedCheckpoint): string {
  let id = weightIds.get(ck);
  if (!id) {
    const h = new WordHash();
    h.text(JSON.stringify([ck.rawConfig, ck.labels, ck.preprocessing, ck.usedEma]));
    for (const name of [...ck.tensors.keys()].sort()) {
      const w = ck.tensors.get(name)!;
      h.text(`${name}:${w.shape.join('x')};`);
      h.words(new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length));
    }
    id = h.hex();
    weightIds.set(ck, id);
  }
  return id;
}

export function exportMetadata(ck: LoadedCheckpoint, kind: GraphKind): Record<string, string> {
  const p = ck.preprocessing;
  const layout =
    kind === 'backend'
      ? 'features: (batch, time, feature_dim) float32'
      : `frames: (batch, channels=${ck.config.inChannels}, time, height=${p.size}, width=${p.size}) float32, normalised (x/255 - mean)/std`;
  return {
    'eflip.version': EFLIP_VERSION,
    'eflip.graph': kind,
    'eflip.labels': JSON.stringify(ck.labels),
    'eflip.normalisation': JSON.stringify({ mean: p.mean, std: p.std, scale: 1 / 255 }),
    'eflip.crop': JSON.stringify({ kind: p.crop, size: p.size }),
    'eflip.grey': p.grey,
    'eflip.input_layout': layout,
    'eflip.temporal_context': kind === 'frontend' ? '1' : '0',
    'eflip.config': JSON.stringify(ck.rawConfig),
    'eflip.ema_weights': String(ck.usedEma),
    'eflip.weights': weightsId(ck),
  };
}

export function exportOnnx(ck: LoadedCheckpoint, kind: GraphKind = 'full'): Uint8Array {
  return encodeModel(exportModelProto(ck, kind));
}

/** The exported model as messages (for passes over the graph, e.g. ./quantize.ts). */
export function exportModelProto(ck: LoadedCheckpoint, kind: GraphKind = 'full'): ModelProto {
  const g = new GraphBuilder(`eflip_${ck.config.variant ?? 'custom'}_${kind}`);
  emitNetwork(g, ck.weights, ck.config, kind, ck.preprocessing.size);
  return buildModel(g, {
    producerName: 'eflip',
    producerVersion: EFLIP_VERSION,
    docString: `eflip lipreading network (${kind}); EfficientNetV2 + Transformer + TCN`,
    metadata: exportMetadata(ck, kind),
  });
}
