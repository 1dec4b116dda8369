// The state dict of a config as names and shapes, by arithmetic alone (no network is built, no
// tensor allocated): what a model file must store for its config. Mirrors the modules of
// lipreader.ts / frontend3d.ts / efficientnetv2.ts / tcn.ts (test/model.test.ts checks the two
// agree for several configs). Lazy, so a check can stop at the first tensor that is not there.
import { blockSpecs, type ModelConfig } from './config.js';

export interface StateEntry {
  name: string;
  shape: number[];
  /** 'int' for BatchNorm's num_batches_tracked counter, else 'float' */
  kind: 'float' | 'int';
}

function* bn(prefix: string, ch: number): Generator<StateEntry> {
  for (const n of ['weight', 'bias', 'running_mean', 'running_var'])
    yield { name: `${prefix}.${n}`, shape: [ch], kind: 'float' };
  yield { name: `${prefix}.num_batches_tracked`, shape: [], kind: 'int' };
}

const f = (name: string, shape: number[]): StateEntry => ({ name, shape, kind: 'float' });

function* convBn(
  prefix: string,
  cout: number,
  cinPerGroup: number,
  k: number,
): Generator<StateEntry> {
  yield f(`${prefix}.0.weight`, [cout, cinPerGroup, k, k]);
  yield* bn(`${prefix}.1`, cout);
}

function* encoderLayer(p: string, d: number, ffn: number): Generator<StateEntry> {
  yield f(`${p}self_attn.in_proj_weight`, [3 * d, d]);
  yield f(`${p}self_attn.in_proj_bias`, [3 * d]);
  yield f(`${p}self_attn.out_proj.weight`, [d, d]);
  yield f(`${p}self_attn.out_proj.bias`, [d]);
  yield f(`${p}linear1.weight`, [ffn, d]);
  yield f(`${p}linear1.bias`, [ffn]);
  yield f(`${p}linear2.weight`, [d, ffn]);
  yield f(`${p}linear2.bias`, [d]);
  for (const n of ['norm1', 'norm2']) {
    yield f(`${p}${n}.weight`, [d]);
    yield f(`${p}${n}.bias`, [d]);
  }
}

/** Every parameter and persistent buffer of LipReaderNet(c), in registration order. */
export function* stateShapes(c: ModelConfig): Generator<StateEntry> {
  const c0 = c.stages[0].inChannels;
  yield f('frontend_3d.conv3d.conv3d.weight', [c0, c.inChannels, 3, 5, 5]);
  yield f('frontend_3d.conv3d.conv3d.bias', [c0]);
  yield* bn('frontend_3d.conv3d.bn', c0);
  for (const b of blockSpecs(c)) {
    const p = `frontend_3d.efnet.blocks.${b.index}.block`;
    if (b.fused) {
      yield* convBn(`${p}.fused`, b.inter, b.inChannels, b.kernel);
      yield* convBn(`${p}.fused_point_wise`, b.outChannels, b.inter, 1);
    } else {
      yield* convBn(`${p}.linear_bottleneck`, b.inter, b.inChannels, 1);
      yield* convBn(`${p}.depth_wise`, b.inter, 1, b.kernel);
      if (b.se) {
        yield f(`${p}.se.fc1.weight`, [b.squeeze, b.inter, 1, 1]);
        yield f(`${p}.se.fc1.bias`, [b.squeeze]);
        yield f(`${p}.se.fc2.weight`, [b.inter, b.squeeze, 1, 1]);
        yield f(`${p}.se.fc2.bias`, [b.inter]);
      }
      yield* convBn(`${p}.point_wise`, b.outChannels, b.inter, 1);
    }
  }
  yield f('frontend_3d.efnet.stage_7.pointwise.weight', [
    2 * c.featureDim,
    c.stages[c.stages.length - 1].outChannels,
    1,
    1,
  ]);
  const t = c.transformer;
  if (t.layers === 1) yield* encoderLayer('transformer_encoder.', c.featureDim, t.ffn);
  else
    for (let i = 0; i < t.layers; i++)
      yield* encoderLayer(`transformer_encoder.layers.${i}.`, c.featureDim, t.ffn);
  const { width: w, kernel: k } = c.tcn;
  for (let i = 0; i < c.tcn.layers; i++) {
    const p = `tcn_block.tcn_layers.${i}`;
    const cin = i === 0 ? c.featureDim : w;
    yield f(`${p}.conv_block.0.weight`, [w, cin, k]);
    yield f(`${p}.conv_block.0.bias`, [w]);
    yield* bn(`${p}.conv_block.1`, w);
    yield f(`${p}.conv_block.2.weight`, [1]);
    yield f(`${p}.conv_block.4.weight`, [w, w, k]);
    yield f(`${p}.conv_block.4.bias`, [w]);
    yield* bn(`${p}.conv_block.5`, w);
    yield f(`${p}.conv_block.6.weight`, [1]);
    yield f(`${p}.conv_block.8.weight`, [1]);
    if (cin !== w) {
      yield f(`${p}.residual.weight`, [w, cin, 1]);
      yield f(`${p}.residual.bias`, [w]);
    }
  }
  yield f('fc_layer.weight', [c.classes, w]);
  yield f('fc_layer.bias', [c.classes]);
}
