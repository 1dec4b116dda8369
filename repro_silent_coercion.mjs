// Non-integer / NaN / out-of-range arguments are silently truncated, wrapped or saturated
// instead of refused (results differ from what was asked).
import * as E from '/work/main/dist/src/engine/index.js';
const x = E.arange(24).float().reshape([2, 3, 4]);
const show = (n, f) => { try { const r = f(); console.log(n, '->', JSON.stringify(r?.shape ?? r)); } catch (e) { console.log(n, '-> threw', e.constructor.name, e.message.slice(0, 90)); } };
show('x.narrow(1, 0.5, 1).shape', () => x.narrow(1, 0.5, 1));
show('x.narrow(1, NaN, 1).shape', () => x.narrow(1, NaN, 1));
show('x.select(0, NaN).shape', () => x.select(0, NaN));
show('x.softmax(NaN).shape (dim 0 used)', () => x.softmax(NaN));
show('x.topk(NaN) values shape', () => x.topk(NaN).values);
show('x.size(NaN)', () => ({ shape: x.size(NaN) }));
show('F.groupNorm(x4, 1.5)', () => E.F.groupNorm(E.randn([2, 3, 4, 4]), 1.5));
show('x.view([NaN, 12]) error names [0, 12]', () => x.view([NaN, 12]));
show("tensor(['a', 3]).toArray()", () => ({ shape: E.tensor(['a', 3]).toArray() }));
show('tensor({a: 1}).toArray()', () => ({ shape: E.tensor({ a: 1 }).toArray() }));
show("tensor([2**40], {dtype:'int32'}).toArray()", () => ({ shape: E.tensor([2 ** 40], { dtype: 'int32' }).toArray() }));
show("tensor([300], {dtype:'uint8'}).toArray()", () => ({ shape: E.tensor([300], { dtype: 'uint8' }).toArray() }));
show("full([1], 300, {dtype:'uint8'}) (for contrast)", () => E.full([1], 300, { dtype: 'uint8' }));
show('manualSeed(NaN) same stream as manualSeed(0)', () => { E.manualSeed(NaN); const a = E.randn([1]).item(); E.manualSeed(0); return { shape: a === E.randn([1]).item() }; });
show('manualSeed(-1) same stream as manualSeed(2**70)', () => { E.manualSeed(-1); const a = E.randn([1]).item(); E.manualSeed(2 ** 70); return { shape: a === E.randn([1]).item() }; });
show('setNumThreads(1e9) accepted; then a 64x64 matmul', () => { E.setNumThreads(1e9); try { return { shape: E.randn([64, 64]).matmul(E.randn([64, 64])).shape }; } finally { E.setNumThreads(1); } });
