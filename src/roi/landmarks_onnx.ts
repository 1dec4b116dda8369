// face-api's 68-point landmark nets ('full' and 'tiny') rebuilt as ONNX graphs from the loaded
// weights and run by onnxruntime-node (Node only: backend.ts loads it). The same arithmetic as
// face-api's tfjs forward pass (FaceFeatureExtractor / TinyFaceFeatureExtractor + the fc layer):
//   crop (1, 112, 112, 3) RGB 0..255 → (x − meanRGB) / 255 → NCHW
//   → dense blocks (4 of 4 convs: 32, 64, 128, 256 channels; tiny: 3 of 3 convs: 32, 64, 128),
//     each halving the size: out1 = relu(conv0 stride 2) (a full 3×3 conv in the first block, a
//     depthwise-separable one after), then each next separable conv reads relu(sum of the
//     outputs so far), and the block returns relu(sum of all of them)
//   → average pool over the 7×7 (tiny: 14×14) map → fc → 136 values (x, y per point, as
//     fractions of the crop side).
// tfjs' 'same' padding puts the odd pixel of a stride-2 conv at the end (ONNX pads [0,0,1,1]).
// Parity with tfjs: test/roi_landmarks_onnx.test.ts; speed: `eflip bench roi` (per call).
import { GraphBuilder, serializeModel } from '../io/onnx/graph_builder.js';
import { nodePlatform } from '../infer/ort_node.js';
import { openSession } from '../infer/ort_session.js';
import type { OrtPlatform, OrtSession } from '../infer/ort_types.js';
import type { FaceApi, LandmarkKind } from './face_models.js';

/** The crop side the nets read. */
const SIZE = 112;
const MEAN_RGB = [122.782, 117.001, 104.298];

/** Per kind: convs per dense block, the face-api net, and the final pool's window. */
const NETS: Record<LandmarkKind, { convs: 3 | 4; net: keyof FaceApi['nets']; pool: number }> = {
  full: { convs: 4, net: 'faceLandmark68Net', pool: 7 },
  tiny: { convs: 3, net: 'faceLandmark68TinyNet', pool: 14 },
};

interface TfTensor {
  shape: number[];
  dataSync(): Float32Array;
}

/** tfjs filter [kh, kw, in, out] (depthwise: [kh, kw, C, 1]) → ONNX [out, in, kh, kw] ([C, 1, kh, kw]). */
function onnxFilter(t: TfTensor, depthwise: boolean): { data: Float32Array; shape: number[] } {
  const [kh, kw, cin, cout] = t.shape;
  const src = t.dataSync();
  const [o, i] = depthwise ? [cin * cout, 1] : [cout, cin];
  const data = new Float32Array(o * i * kh * kw);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < cin; c++)
        for (let d = 0; d < cout; d++) {
          const [oo, ii] = depthwise ? [c * cout + d, 0] : [d, c];
          data[((oo * i + ii) * kh + y) * kw + x] = src[((y * kw + x) * cin + c) * cout + d];
        }
  return { data, shape: [o, i, kh, kw] };
}

/** tfjs 'same' padding of a k×k conv with `stride` on an n×n input: [top, left, bottom, right]. */
function samePads(n: number, k: number, stride: number): number[] {
  const out = Math.ceil(n / stride);
  const total = Math.max((out - 1) * stride + k - n, 0);
  const before = Math.floor(total / 2);
  return [before, before, total - before, total - before];
}

/** The landmark net of `kind` as an ONNX model (crop (1, 112, 112, 3) float → xy (1, 136)). */
export function landmarkNetOnnx(api: FaceApi, kind: LandmarkKind): Uint8Array {
  const spec = NETS[kind];
  const net = api.nets[spec.net];
  const blocks = net.faceFeatureExtractor.params as Record<string, Record<string, any>>;
  const g = new GraphBuilder(`face-api ${spec.net}`);
  const crop = g.input('crop', [1, SIZE, SIZE, 3]);
  const centred = g.op('Sub', [crop, g.floats(MEAN_RGB, [1, 1, 1, 3])]);
  let x = g.op('Transpose', [g.op('Div', [centred, g.floats([255], [])])], { perm: [0, 3, 1, 2] });
  let n = SIZE;
  const conv = (
    input: string,
    name: string,
    f: TfTensor,
    bias: TfTensor | undefined,
    stride: number,
    depthwise = false,
  ) => {
    const w = onnxFilter(f, depthwise);
    const inputs = [input, g.initializer(`${name}.weight`, w.data, w.shape)];
    if (bias) inputs.push(g.initializer(`${name}.bias`, bias.dataSync(), bias.shape));
    const pads = samePads(n, w.shape[2], stride);
    n = Math.ceil(n / stride); // the map's side from here on
    return g.op(
      'Conv',
      inputs,
      {
        kernel_shape: w.shape.slice(2),
        strides: [stride, stride],
        pads,
        group: depthwise ? w.shape[0] : 1,
      },
      name,
    );
  };
  const separable = (input: string, name: string, p: any, stride: number) => {
    const dw = conv(input, `${name}.depthwise`, p.depthwise_filter, undefined, stride, true);
    return conv(dw, `${name}.pointwise`, p.pointwise_filter, p.bias, 1);
  };
  // relu(out1 + (out2 + (… + outK))), summed in face-api's order
  const reluOfSum = (outs: string[]) =>
    g.op('Relu', [outs.reduceRight((acc, o) => g.op('Add', [o, acc]))]);
  for (const [b, p] of Object.entries(blocks)) {
    const first = p.conv0.filters
      ? conv(x, `${b}.conv0`, p.conv0.filters, p.conv0.bias, 2)
      : separable(x, `${b}.conv0`, p.conv0, 2);
    const outs = [g.op('Relu', [first])];
    for (let k = 1; k < spec.convs; k++)
      outs.push(separable(k === 1 ? outs[0] : reluOfSum(outs), `${b}.conv${k}`, p[`conv${k}`], 1));
    x = reluOfSum(outs);
  }
  const pooled = g.op('AveragePool', [x], {
    kernel_shape: [spec.pool, spec.pool],
    strides: [2, 2],
  });
  const flat = g.op('Flatten', [pooled], { axis: 1 });
  const fc = net.params.fc as { weights: TfTensor; bias: TfTensor };
  const xy = g.op('Add', [
    g.op('MatMul', [flat, g.initializer('fc.weights', fc.weights.dataSync(), fc.weights.shape)]),
    g.initializer('fc.bias', fc.bias.dataSync(), fc.bias.shape),
  ]);
  g.output(xy, 'xy', [1, 136]);
  return serializeModel(g, {
    docString: `face-api ${spec.net} (68 landmarks), rebuilt from its loaded weights`,
  });
}

/** One landmark net on onnxruntime-node: a 112×112 RGB crop → 136 fractions of the crop side. */
export class OnnxLandmarkNet {
  private constructor(
    private readonly platform: OrtPlatform,
    private readonly session: OrtSession,
  ) {}

  /** Build and open the net of `kind` (one intra-op thread: the tracker's other work — the
   *  decoder, the helper thread — has the other cores). */
  static async open(api: FaceApi, kind: LandmarkKind, threads = 1): Promise<OnnxLandmarkNet> {
    const platform = await nodePlatform('cpu', threads);
    const { session } = await openSession(
      platform,
      landmarkNetOnnx(api, kind),
      `face-api landmark net (${kind})`,
    );
    return new OnnxLandmarkNet(platform, session);
  }

  /** (x, y) × 68 as fractions of the crop side, for a 112·112·3 RGB crop (read at once: the
   *  caller may reuse it when this returns). */
  async run(crop: Uint8Array): Promise<Float32Array> {
    const out = await this.session.run({
      crop: new this.platform.ort.Tensor('float32', Float32Array.from(crop), [1, SIZE, SIZE, 3]),
    });
    return out.xy.data as Float32Array;
  }
}
