// Errors whose message is several lines of libtorch text (the promise is one line), and
// errors that are not EngineErrors at all.
import * as E from '/work/main/dist/src/engine/index.js';
const cases = {
  'x.unflatten(1, [-1, -1])': () => E.randn([2, 3, 4]).unflatten(1, [-1, -1]),
  'x.pinMemory() on a CPU-only build': () => E.ones([2]).pinMemory(),
  'foreachSqrt([])': () => E.foreachSqrt([]),
  'x.index([])': () => E.ones([2, 3]).index([]),
  'tensor([NaN], {dtype: int64})': () => E.tensor([NaN], { dtype: 'int64' }),
  'tensor([1n, 2n])': () => E.tensor([1n, 2n]),
  'Tensor.fromBytes(bytes, dtype, shape) (argument order of free fromBytes)': () => E.Tensor.fromBytes(new Uint8Array(4), 'float32', [1]),
  'cat([t, null])': () => E.cat([E.ones([1]), null]),
  'x.to(null)': () => E.ones([1]).to(null),
  "ones([1], {dtype: 'uint8'}).expand([2**33]).toBytes() [skipped: needs 16 GB]": null,
};
for (const [name, fn] of Object.entries(cases)) {
  if (!fn) continue;
  try { fn(); console.log(`${name}: no error`); }
  catch (e) {
    const lines = String(e.message).split('\n');
    console.log(`${name}: ${e.constructor.name}${e instanceof E.EngineError ? '' : ' (not an EngineError)'}, ${lines.length} line(s): ${lines[0].slice(0, 110)}${lines.length > 1 ? ' | ' + lines[1].slice(0, 80) : ''}`);
  }
}
