// Checkpoint → ONNX bytes: the full model, or the front-end/back-end pair used by streaming.
// Metadata props carry everything a deployment needs to use the file alone.
import { GraphBuilder, buildModel } from './graph_builder.js';
import { encodeModel, type ModelProto } from './onnx_proto.js';
import type { LoadedCheckpoint } from './checkpoint_weights.js';
import { emitNetwork, type GraphKind } from './network_graph.js';

export const EFLIP_VERSION = '0.1.0';

/** Metadata keys written into every exported file (values are strings; JSON where structured). */
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
