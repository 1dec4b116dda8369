// A restricted Python unpickler (protocols 0-5) that NEVER executes anything.
// Python's pickle is a stack machine whose GLOBAL/REDUCE opcodes normally import and call
// arbitrary callables (os.system...). Here a global is only ever looked up in a small table
// of pure TypeScript constructors (OrderedDict, set, _codecs.encode, torch tensor rebuild);
// every other global becomes an inert `PickleGlobal`, and "calling" it just records the
// arguments in a `PickleObject`. Unknown opcodes and malformed streams raise PickleError.
// Opcode reference: CPython Lib/pickletools.py.

export class PickleError extends Error {
  override name = 'PickleError';
}

/** A reference to a Python global that was NOT resolved (never imported, never called). */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string { return `${this.module}.${this.name}`; }
  toString(): string { return `<global ${this.qualname}>`; }
}

/** The inert result of "calling" or instantiating an unresolved global. */
export class PickleObject {
  state: unknown = undefined;
  constructor(readonly cls: PickleGlobal, readonly args: unknown[]) {}
  toString(): string { return `<${this.cls.qualname} object>`; }
}

/** Python tuple (frozen JS array, distinguishable from list by this wrapper). */
export class PyTuple extends Array<unknown> {}
export function tuple(items: unknown[]): PyTuple {
  const t = new PyTuple();
  for (const x of items) t.push(x);
  return Object.freeze(t) as PyTuple;
}

/** Python dict: a Map keeps insertion order and non-string keys. */
export type PyDict = Map<unknown, unknown>;

/** A callable global the unpickler may "call": pure function over already-unpickled values. */
export type SafeCallable = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Extra safe callables by "module.name" (e.g. torch tensor rebuilders). */
  globals?: Record<string, SafeCallable>;
  /** Resolves a persistent id (BINPERSID) — torch storages. */
  persistentLoad?: (pid: unknown) => unknown;
}

const MARK = Symbol('mark');

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

function dictFromPairs(pairs: unknown): PyDict {
  const d: PyDict = new Map();
  if (pairs === undefined) return d;
  if (!Array.isArray(pairs)) throw new PickleError('OrderedDict expects a list of pairs');
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2) throw new PickleError('OrderedDict pair is not a 2-tuple');
    d.set(hashKey(p[0]), p[1]);
  }
  return d;
}

/** Tuple keys are turned into strings so Map lookups by value work (Python hashes by value). */
function hashKey(k: unknown): unknown {
  if (k instanceof PyTuple) return `(${k.map((x) => String(x)).join(', ')})`;
  if (typeof k === 'bigint' && k >= BigInt(Number.MIN_SAFE_INTEGER) && k <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(k);
  return k;
}

const BUILTIN_GLOBALS: Record<string, SafeCallable> = {
  'collections.OrderedDict': (a) => dictFromPairs(a[0]),
  'builtins.set': (a) => new Set((a[0] as unknown[] | undefined) ?? []),
  '__builtin__.set': (a) => new Set((a[0] as unknown[] | undefined) ?? []),
  'builtins.frozenset': (a) => new Set((a[0] as unknown[] | undefined) ?? []),
  '__builtin__.frozenset': (a) => new Set((a[0] as unknown[] | undefined) ?? []),
  // protocol 2 pickles bytes as _codecs.encode(str, 'latin1')
  '_codecs.encode': (a) => {
    if (typeof a[0] !== 'string') throw new PickleError('_codecs.encode expects a string');
    const enc = String(a[1] ?? 'utf-8').toLowerCase();
    if (enc === 'latin1' || enc === 'latin-1') return Uint8Array.from(a[0] as string, (c) => c.charCodeAt(0) & 0xff);
    return new TextEncoder().encode(a[0] as string);
  },
};

/** Unpickle `bytes` without executing anything. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): unknown {
  const safe: Record<string, SafeCallable> = { ...BUILTIN_GLOBALS, ...(opts.globals ?? {}) };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleError(`truncated pickle: need ${n} bytes at offset ${pos}`);
  };
  const u8 = () => { need(1); return bytes[pos++]; };
  const u16 = () => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true); pos += 8;
    if (v > BigInt(bytes.length)) throw new PickleError(`length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const take = (n: number) => { need(n); const s = bytes.subarray(pos, pos + n); pos += n; return s; };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError('truncated pickle: unterminated text line');
    const s = latin1.decode(bytes.subarray(pos, end)); pos = end + 1; return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at offset ${pos - 1}`);
    const v = stack.pop();
    if (v === MARK) throw new PickleError(`unexpected MARK at offset ${pos - 1}`);
    return v;
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at offset ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) throw new PickleError(`no MARK on the stack at offset ${pos - 1}`);
    stack = prev;
    return items;
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const findGlobal = (module: string, name: string) => {
    const key = `${module}.${name}`;
    return safe[key] ? new SafeGlobal(key, safe[key]) : new PickleGlobal(module, name);
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (fn instanceof SafeGlobal) return fn.fn(args);
    if (fn instanceof PickleGlobal) return new PickleObject(fn, args);
    throw new PickleError(`cannot call a non-global (${describe(fn)}) at offset ${pos - 1}`);
  };
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (d instanceof Map) d.set(hashKey(k), v);
    else if (d instanceof PickleObject) {
      // dict subclasses rebuilt as placeholders keep their items in `state`
      if (!(d.state instanceof Map)) d.state = new Map();
      (d.state as PyDict).set(hashKey(k), v);
    } else throw new PickleError(`SETITEM on a non-dict (${describe(d)})`);
  };
  const append = (l: unknown, items: unknown[]) => {
    if (Array.isArray(l) && !Object.isFrozen(l)) l.push(...items);
    else if (l instanceof Set) for (const x of items) l.add(x);
    else if (l instanceof PickleObject) {
      if (!Array.isArray(l.state)) l.state = [];
      (l.state as unknown[]).push(...items);
    } else throw new PickleError(`APPEND on a non-list (${describe(l)})`);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) throw new PickleError(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: u64(); break; // FRAME (length hint only)
      case 0x2e: { // STOP '.'
        const result = pop();
        return result;
      }
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // ---- constants
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { const n = u8(); stack.push(longFromBytes(take(n))); break; } // LONG1
      case 0x8b: { const n = u32(); stack.push(longFromBytes(take(n))); break; } // LONG4
      case 0x49: { // INT (text); "00"/"01" are False/True
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(parseIntText(s));
        break;
      }
      case 0x4c: stack.push(parseIntText(line().replace(/L$/, ''))); break; // LONG (text)
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x46: stack.push(Number.parseFloat(line())); break; // FLOAT (text)
      // ---- strings / bytes
      case 0x58: { const n = u32(); stack.push(decodeUtf8(take(n))); break; } // BINUNICODE
      case 0x8c: { const n = u8(); stack.push(decodeUtf8(take(n))); break; } // SHORT_BINUNICODE
      case 0x8d: { const n = u64(); stack.push(decodeUtf8(take(n))); break; } // BINUNICODE8
      case 0x56: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16)))); break; // UNICODE
      case 0x55: { const n = u8(); stack.push(latin1.decode(take(n))); break; } // SHORT_BINSTRING
      case 0x54: { const n = i32(); if (n < 0) throw new PickleError('negative BINSTRING length'); stack.push(latin1.decode(take(n))); break; }
      case 0x53: stack.push(parseQuoted(line())); break; // STRING
      case 0x42: { const n = u32(); stack.push(take(n).slice()); break; } // BINBYTES
      case 0x43: { const n = u8(); stack.push(take(n).slice()); break; } // SHORT_BINBYTES
      case 0x8e: { const n = u64(); stack.push(take(n).slice()); break; } // BINBYTES8
      case 0x96: { const n = u64(); stack.push(take(n).slice()); break; } // BYTEARRAY8
      // ---- containers
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x90: { const items = popMark(); append(top(), items); break; } // ADDITEMS
      case 0x91: { const items = popMark(); stack.push(new Set(items)); break; } // FROZENSET
      case 0x74: { const items = popMark(); stack.push(tuple(items)); break; } // TUPLE
      case 0x85: { const a = pop(); stack.push(tuple([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; } // TUPLE3
      case 0x6c: { const items = popMark(); stack.push(items); break; } // LIST
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) throw new PickleError('DICT with an odd number of items');
        const d: PyDict = new Map();
        for (let i = 0; i < items.length; i += 2) d.set(hashKey(items[i]), items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) throw new PickleError('SETITEMS with an odd number of items');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      // ---- memo
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x70: memo.set(parseIntText(line()) as number, top()); break; // PUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memoGet(memo, u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32())); break; // LONG_BINGET
      case 0x67: stack.push(memoGet(memo, parseIntText(line()) as number)); break; // GET
      // ---- globals and object construction (never executed)
      case 0x63: { const module = line(); const name = line(); stack.push(findGlobal(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL expects two strings');
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(); const fn = pop();
        if (!Array.isArray(args)) throw new PickleError(`REDUCE arguments are not a tuple at offset ${at}`);
        stack.push(call(fn, [...args]));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop(); const cls = pop();
        if (!Array.isArray(args)) throw new PickleError(`NEWOBJ arguments are not a tuple at offset ${at}`);
        stack.push(call(cls, [...args]));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop(); const args = pop(); const cls = pop();
        if (!Array.isArray(args)) throw new PickleError(`NEWOBJ_EX arguments are not a tuple at offset ${at}`);
        const o = call(cls, [...args]);
        if (o instanceof PickleObject && kwargs instanceof Map && kwargs.size) o.state = kwargs;
        stack.push(o);
        break;
      }
      case 0x6f: { // OBJ: MARK cls args... OBJ
        const items = popMark();
        if (items.length === 0) throw new PickleError('OBJ without a class');
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x69: { // INST (text module/name) MARK args... INST
        const module = line(); const name = line();
        const items = popMark();
        stack.push(call(findGlobal(module, name), items));
        break;
      }
      case 0x62: { // BUILD: obj.__setstate__(state) — recorded, never executed
        const state = pop(); const obj = top();
        if (obj instanceof PickleObject) obj.state = state;
        else if (obj instanceof Map && state instanceof Map) for (const [k, v] of state) obj.set(k, v);
        else if (obj instanceof TorchTensorLike) obj.state = state;
        // Other targets (e.g. tensors' empty state, OrderedDict's None) carry nothing we need.
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) throw new PickleError('pickle references external data (persistent id) but none can be resolved here');
        stack.push(opts.persistentLoad(pid));
        break;
      }
      case 0x50: { // PERSID (text)
        const pid = line();
        if (!opts.persistentLoad) throw new PickleError('pickle references external data (persistent id) but none can be resolved here');
        stack.push(opts.persistentLoad(pid));
        break;
      }
      case 0x82: case 0x83: case 0x84: // EXT1/2/4
        throw new PickleError(`pickle opcode EXT (0x${op.toString(16)}) at offset ${at} refers to the copyreg extension registry; not supported`);
      case 0x97: case 0x98: // NEXT_BUFFER / READONLY_BUFFER
        throw new PickleError(`pickle uses out-of-band buffers (opcode 0x${op.toString(16)} at offset ${at}); not supported`);
      default:
        throw new PickleError(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${at} (corrupt or not a pickle)`);
    }
  }
}

/** Base class for values produced by safe callables that BUILD may annotate. */
export class TorchTensorLike {
  state: unknown = undefined;
}

class SafeGlobal {
  constructor(readonly qualname: string, readonly fn: SafeCallable) {}
}

function memoGet(memo: Map<number, unknown>, i: number): unknown {
  if (!memo.has(i)) throw new PickleError(`memo key ${i} not found (corrupt pickle)`);
  return memo.get(i);
}

function decodeUtf8(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new PickleError('invalid UTF-8 in a pickled string');
  }
}

function parseIntText(s: string): number | bigint {
  if (!/^[+-]?\d+$/.test(s.trim())) throw new PickleError(`invalid integer literal '${s}'`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseQuoted(s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) throw new PickleError(`invalid STRING literal ${s}`);
  return s.slice(1, -1).replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, h, c) => (h ? String.fromCharCode(parseInt(h, 16)) : c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PickleGlobal || v instanceof PickleObject) return v.toString();
  if (v instanceof Map) return 'dict';
  if (v instanceof PyTuple) return 'tuple';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}
