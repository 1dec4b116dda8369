// A faster Concat kernel for tfjs's WebAssembly backend. The landmark net (a DenseNet)
// concatenates feature maps along the channel axis of NHWC tensors; tfjs-backend-wasm 4.22
// does that in JavaScript with one subarray() + set() per pixel and input (3136 pixels × 2-3
// inputs per concat on a 56×56 map), which measured ~40 % of the net's time per face and most
// of its garbage. This one copies element by element for short runs (the channels of a pixel)
// and with set() for long ones. The result is the same bytes; inputs and outputs live in the
// wasm heap as before. Installed by backend.ts (Node); no Node imports, so a page could use it.

/** Replace the wasm backend's Concat kernel (idempotent); returns false when tfjs lacks the hooks. */
export function installFastConcat(tf: any): boolean {
  if (
    typeof tf?.getKernel !== 'function' ||
    typeof tf.unregisterKernel !== 'function' ||
    typeof tf.registerKernel !== 'function'
  )
    return false;
  const orig = tf.getKernel('Concat', 'wasm');
  if (!orig) return false;
  if (orig.kernelFunc.fastConcat) return true;
  const kernelFunc = (args: any) => fastConcat(tf, args, orig.kernelFunc);
  kernelFunc.fastConcat = true;
  tf.unregisterKernel('Concat', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc });
  return true;
}

function fastConcat(tf: any, args: any, fallback: (a: any) => any): any {
  const { inputs, backend } = args;
  const size = (s: number[]) => tf.util.sizeFromShape(s);
  const live = inputs.filter((t: any) => size(t.shape) > 0);
  if (live.length < 2 || inputs[0].dtype === 'string') return fallback(args);
  const axis = tf.util.parseAxisParam(args.attrs.axis, inputs[0].shape)[0];
  tf.backend_util.assertParamsConsistent(
    inputs.map((t: any) => t.shape),
    axis,
  );
  const outShape = tf.backend_util.computeOutShape(
    inputs.map((t: any) => t.shape),
    axis,
  );
  const out = backend.makeOutput(outShape, inputs[0].dtype);
  if (size(outShape) === 0) return out;
  const outer = size(live[0].shape.slice(0, axis));
  const inner: number[] = live.map((t: any) => size(t.shape.slice(axis)));
  const src = live.map((t: any) => backend.typedArrayFromHeap(t));
  const dst = backend.typedArrayFromHeap(out);
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (let i = 0; i < src.length; i++) {
      const n = inner[i],
        v = src[i];
      let k = b * n;
      if (n > 256) {
        dst.set(v.subarray(k, k + n), o);
        o += n;
      } else for (const end = k + n; k < end;) dst[o++] = v[k++];
    }
  }
  return out;
}
