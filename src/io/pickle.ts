// A restricted Python unpickler (protocols 0-5) that NEVER executes anything.
// Python's pickle is a stack machine whose GLOBAL/REDUCE opcodes normally import and call
// arbitrary callables (os.system...). Here a global is only ever looked up in a small table
// of pure TypeScript constructors (OrderedDict, set, _codecs.encode, torch tensor rebuild);
// every other global becomes an inert `PickleGlobal`, and "calling" it just records the
// arguments in a `PickleObject`. Unknown opcodes and malformed streams raise PickleError.
// The stack machine is bounded (UNPICKLE_LIMITS): steps (opcodes plus the work an opcode does
// over an existing container), stack depth, memo entries, objects created and container items,
// each checked before the work, so a small hostile pickle cannot hang or exhaust memory.
// Opcode reference: CPython Lib/pickletools.py.

export class PickleError extends Error {
  override name = 'PickleError';
}

/** A reference to a Python global that was NOT resolved (never imported, never called). */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
  toString(): string {
    return `<global ${clip(this.qualname)}>`;
  }
}

/** The inert result of "calling" or instantiating an unresolved global. */
export class PickleObject {
  state: unknown = undefined;
  constructor(
    readonly cls: PickleGlobal,
    readonly args: unknown[],
  ) {}
  toString(): string {
    return `<${clip(this.cls.qualname)} object>`;
  }
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

/**
 * A callable global the unpickler may "call": a pure function over already-unpickled values.
 * `args` is the pickled tuple itself (never mutate it); `budget` counts any walk over them.
 */
export type SafeCallable = (args: readonly unknown[], budget: UnpickleBudget) => unknown;

/**
 * Bounds of one unpickle. A checkpoint's pickle holds structure only (tensor data lives in
 * separate archive entries): a 26M-parameter Lightning checkpoint with optimizer state needs
 * ~10^4 of each, a multi-GB one (thousands of tensors) ~10^5; the limits keep 5-100x headroom
 * yet hold the worst case of each well under 10 s and a few hundred MB.
 */
export const UNPICKLE_LIMITS = {
  /** opcodes executed plus items walked by opcodes that reuse an existing container */
  steps: 1 << 25,
  /** values on the stack, all MARK levels together */
  stack: 1 << 22,
  /** memo entries */
  memo: 1 << 21,
  /** containers and objects created (dict, list, tuple, set, bytes, globals, objects) */
  objects: 1 << 20,
  /** items stored into containers, all containers together */
  items: 1 << 22,
  /** characters of one non-string dict key (a tuple key is keyed by its text) */
  keyChars: 1 << 16,
  /** tuples nested inside one dict key */
  keyDepth: 100,
  /** bytes of one LONG / digits of one text integer (Python refuses > 4300 digits too) */
  intBytes: 4096,
};

export interface UnpickleOptions {
  /** Extra safe callables by "module.name" (e.g. torch tensor rebuilders). */
  globals?: Record<string, SafeCallable>;
  /** Resolves a persistent id (BINPERSID) — torch storages. */
  persistentLoad?: (pid: unknown) => unknown;
}

const MARK = Symbol('mark');

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** The work counter of one unpickle; safe callables charge what they walk. */
export interface UnpickleBudget {
  /** count `n` steps (items walked) */
  step(n: number): void;
  /** a dict key as stored in the Map (tuple keys become their text, within the budget) */
  key(k: unknown): unknown;
}

function dictFromPairs(pairs: unknown, budget: UnpickleBudget): PyDict {
  const d: PyDict = new Map();
  if (pairs === undefined) return d;
  if (!Array.isArray(pairs)) throw new PickleError('OrderedDict expects a list of pairs');
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2)
      throw new PickleError('OrderedDict pair is not a 2-tuple');
    d.set(budget.key(p[0]), p[1]);
  }
  return d;
}

/**
 * The text of a tuple dict key, e.g. `(1, 2)`, so Map lookups by value work (Python hashes
 * tuples by value). Only what Python can hash is accepted (no list or dict inside), and the text
 * is capped at `maxChars`: nested tuples shared through the memo cannot make it explode.
 */
function tupleKeyText(k: PyTuple, maxChars: number, maxDepth: number): string {
  let out = '';
  let depth = 0;
  const add = (s: string) => {
    out += s;
    if (out.length > maxChars)
      throw new PickleError(
        `a dict key is a tuple whose text exceeds ${maxChars} characters (limit)`,
      );
  };
  const walk = (v: unknown): void => {
    if (v instanceof PyTuple) {
      if (++depth > maxDepth)
        throw new PickleError(`a dict key nests tuples more than ${maxDepth} deep (limit)`);
      add('(');
      for (let i = 0; i < v.length; i++) {
        if (i) add(', ');
        walk(v[i]);
      }
      add(')');
      depth--;
    } else if (Array.isArray(v) || v instanceof Map) {
      throw new PickleError(
        `a dict key is a tuple holding a ${describe(v)}, which Python cannot hash (corrupt pickle)`,
      );
    } else if (v instanceof Uint8Array) {
      if (v.length > maxChars) add(' '.repeat(maxChars + 1));
      add(`b'${latin1.decode(v)}'`);
    } else if (v instanceof Set) {
      add(`frozenset(${v.size})`);
    } else if (
      typeof v === 'object' &&
      v !== null &&
      !(v instanceof PickleGlobal) &&
      !(v instanceof PickleObject)
    ) {
      add(`<${v.constructor?.name ?? 'object'}>`);
    } else {
      add(String(v));
    }
  };
  walk(k);
  return out;
}

const setOf = (a: readonly unknown[]) => {
  const v = a[0];
  if (v === undefined) return new Set();
  if (!Array.isArray(v) && !(v instanceof Set))
    throw new PickleError(`set() expects a list, got ${describe(v)}`);
  return new Set(v);
};

const BUILTIN_GLOBALS: Record<string, SafeCallable> = {
  'collections.OrderedDict': (a, b) => dictFromPairs(a[0], b),
  'builtins.set': setOf,
  '__builtin__.set': setOf,
  'builtins.frozenset': setOf,
  '__builtin__.frozenset': setOf,
  // protocol 2 pickles bytes as _codecs.encode(str, 'latin1')
  '_codecs.encode': (a) => {
    if (typeof a[0] !== 'string') throw new PickleError('_codecs.encode expects a string');
    const enc = typeof a[1] === 'string' ? a[1].toLowerCase() : 'utf-8';
    if (enc === 'latin1' || enc === 'latin-1')
      return Uint8Array.from(a[0] as string, (c) => c.charCodeAt(0) & 0xff);
    return new TextEncoder().encode(a[0] as string);
  },
};

/** How many items a call over `v` walks (a string or bytes: its length). */
function sizeOf(v: unknown): number {
  if (Array.isArray(v) || typeof v === 'string' || v instanceof Uint8Array) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  return 1;
}

/** Unpickle `bytes` without executing anything, within UNPICKLE_LIMITS. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): unknown {
  const safe: Record<string, SafeCallable> = { ...BUILTIN_GLOBALS, ...(opts.globals ?? {}) };
  const L = UNPICKLE_LIMITS;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  let buried = 0; // values on the stacks below the current MARK
  const memo = new Map<number, unknown>();
  let steps = 0,
    objects = 0,
    items = 0;

  const tooMuch = (what: string, limit: number) =>
    new PickleError(
      `pickle exceeds the limit of ${limit} ${what} at offset ${pos} (not a checkpoint eflip can read)`,
    );
  const step = (n: number) => {
    steps += n;
    if (steps > L.steps) throw tooMuch('steps', L.steps);
  };
  const newObject = () => {
    if (++objects > L.objects) throw tooMuch('objects', L.objects);
  };
  const addItems = (n: number) => {
    items += n;
    if (items > L.items) throw tooMuch('container items', L.items);
  };
  const hashKey = (k: unknown): unknown => {
    if (k instanceof PyTuple) {
      const s = tupleKeyText(k, L.keyChars, L.keyDepth);
      step(s.length);
      return s;
    }
    if (Array.isArray(k) || k instanceof Map)
      throw new PickleError(
        `a dict key is a ${describe(k)}, which Python cannot hash (corrupt pickle)`,
      );
    if (
      typeof k === 'bigint' &&
      k >= BigInt(Number.MIN_SAFE_INTEGER) &&
      k <= BigInt(Number.MAX_SAFE_INTEGER)
    )
      return Number(k);
    return k;
  };
  const budget: UnpickleBudget = { step, key: hashKey };

  const need = (n: number) => {
    if (pos + n > bytes.length)
      throw new PickleError(
        `truncated pickle: need ${n} bytes at offset ${pos}, only ${bytes.length - pos} left`,
      );
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length - pos))
      throw new PickleError(
        `truncated pickle: length ${v} at offset ${pos - 8} exceeds the ${bytes.length - pos} bytes left`,
      );
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const s = bytes.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError('truncated pickle: unterminated text line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
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
    const popped = stack;
    const prev = metastack.pop();
    if (!prev) throw new PickleError(`no MARK on the stack at offset ${pos - 1}`);
    buried -= prev.length;
    stack = prev;
    return popped;
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > L.intBytes)
      throw new PickleError(
        `pickled integer of ${b.length} bytes at offset ${pos - b.length} exceeds the ${L.intBytes}-byte limit`,
      );
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
    let v = BigInt('0x' + hex);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };
  const intText = (s: string) => {
    if (s.length > L.intBytes)
      throw new PickleError(
        `pickled integer of ${s.length} digits at offset ${pos} exceeds the ${L.intBytes}-digit limit`,
      );
    return parseIntText(s);
  };
  const memoPut = (i: number, v: unknown) => {
    if (!memo.has(i) && memo.size >= L.memo) throw tooMuch('memo entries', L.memo);
    memo.set(i, v);
  };
  const findGlobal = (module: string, name: string) => {
    newObject();
    const key = `${module}.${name}`;
    return Object.hasOwn(safe, key)
      ? new SafeGlobal(key, safe[key])
      : new PickleGlobal(module, name);
  };
  const call = (fn: unknown, args: readonly unknown[]): unknown => {
    newObject();
    if (fn instanceof SafeGlobal) {
      let n = args.length;
      for (const a of args) n += sizeOf(a);
      step(n); // a callable may walk each argument once
      addItems(n); // ...and keep what it walked in a new container
      return fn.fn(args, budget);
    }
    if (fn instanceof PickleGlobal) {
      step(args.length);
      addItems(args.length);
      return new PickleObject(fn, [...args]);
    }
    throw new PickleError(`cannot call a non-global (${describe(fn)}) at offset ${pos - 1}`);
  };
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (d instanceof Map) d.set(hashKey(k), v);
    else if (d instanceof PickleObject) {
      // dict subclasses rebuilt as placeholders keep their items in `state`
      if (!(d.state instanceof Map)) d.state = new Map();
      (d.state as PyDict).set(hashKey(k), v);
    } else throw new PickleError(`SETITEM on a non-dict (${describe(d)}) at offset ${pos - 1}`);
  };
  const append = (l: unknown, xs: unknown[]) => {
    addItems(xs.length);
    let into: unknown[] | Set<unknown>;
    if (Array.isArray(l) && !Object.isFrozen(l)) into = l;
    else if (l instanceof Set) into = l;
    else if (l instanceof PickleObject) {
      if (!Array.isArray(l.state)) l.state = [];
      into = l.state as unknown[];
    } else throw new PickleError(`APPEND on a non-list (${describe(l)}) at offset ${pos - 1}`);
    if (into instanceof Set) for (const x of xs) into.add(x);
    else for (const x of xs) into.push(x); // no push(...xs): a long batch would overflow the call stack
  };

  for (;;) {
    const at = pos;
    const op = u8();
    step(1);
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) throw new PickleError(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME (length hint only)
      case 0x2e: {
        // STOP '.'
        const result = pop();
        return result;
      }
      case 0x28: // MARK
        metastack.push(stack);
        buried += stack.length;
        stack = [];
        break;
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      // ---- constants
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a: {
        const n = u8();
        stack.push(longFromBytes(take(n)));
        break;
      } // LONG1
      case 0x8b: {
        // LONG4
        const n = u32();
        if (n > L.intBytes)
          throw new PickleError(
            `pickled integer (LONG4) of ${n} bytes at offset ${at} exceeds the ${L.intBytes}-byte limit`,
          );
        stack.push(longFromBytes(take(n)));
        break;
      }
      case 0x49: {
        // INT (text); "00"/"01" are False/True
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(intText(s));
        break;
      }
      case 0x4c:
        stack.push(intText(line().replace(/L$/, '')));
        break; // LONG (text)
      case 0x47: {
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      } // BINFLOAT (big-endian)
      case 0x46:
        stack.push(Number.parseFloat(line()));
        break; // FLOAT (text)
      // ---- strings / bytes (lengths are checked against the bytes left before anything is read)
      case 0x58: {
        const n = u32();
        stack.push(decodeUtf8(take(n)));
        break;
      } // BINUNICODE
      case 0x8c: {
        const n = u8();
        stack.push(decodeUtf8(take(n)));
        break;
      } // SHORT_BINUNICODE
      case 0x8d: {
        const n = u64();
        stack.push(decodeUtf8(take(n)));
        break;
      } // BINUNICODE8
      case 0x56:
        stack.push(
          line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
        );
        break; // UNICODE
      case 0x55: {
        const n = u8();
        stack.push(latin1.decode(take(n)));
        break;
      } // SHORT_BINSTRING
      case 0x54: {
        const n = i32();
        if (n < 0) throw new PickleError('negative BINSTRING length');
        stack.push(latin1.decode(take(n)));
        break;
      }
      case 0x53:
        stack.push(parseQuoted(line()));
        break; // STRING
      case 0x42: {
        const n = u32();
        newObject();
        stack.push(take(n).slice());
        break;
      } // BINBYTES
      case 0x43: {
        const n = u8();
        newObject();
        stack.push(take(n).slice());
        break;
      } // SHORT_BINBYTES
      case 0x8e: {
        const n = u64();
        newObject();
        stack.push(take(n).slice());
        break;
      } // BINBYTES8
      case 0x96: {
        const n = u64();
        newObject();
        stack.push(take(n).slice());
        break;
      } // BYTEARRAY8
      // ---- containers
      case 0x7d:
        newObject();
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        newObject();
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        newObject();
        stack.push(tuple([]));
        break; // EMPTY_TUPLE
      case 0x8f:
        newObject();
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x90: {
        const xs = popMark();
        append(top(), xs);
        break;
      } // ADDITEMS
      case 0x91: {
        const xs = popMark();
        newObject();
        addItems(xs.length);
        stack.push(new Set(xs));
        break;
      } // FROZENSET
      case 0x74: {
        const xs = popMark();
        newObject();
        addItems(xs.length);
        stack.push(tuple(xs));
        break;
      } // TUPLE
      case 0x85: {
        const a = pop();
        newObject();
        addItems(1);
        stack.push(tuple([a]));
        break;
      } // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        newObject();
        addItems(2);
        stack.push(tuple([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        newObject();
        addItems(3);
        stack.push(tuple([a, b, c]));
        break;
      } // TUPLE3
      case 0x6c: {
        const xs = popMark();
        newObject();
        addItems(xs.length);
        stack.push(xs);
        break;
      } // LIST
      case 0x64: {
        // DICT
        const xs = popMark();
        if (xs.length % 2) throw new PickleError('DICT with an odd number of items');
        newObject();
        addItems(xs.length / 2);
        const d: PyDict = new Map();
        for (let i = 0; i < xs.length; i += 2) d.set(hashKey(xs[i]), xs[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: {
        const v = pop();
        append(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const xs = popMark();
        append(top(), xs);
        break;
      } // APPENDS
      case 0x73: {
        const v = pop();
        const k = pop();
        addItems(1);
        setItem(top(), k, v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const xs = popMark();
        if (xs.length % 2) throw new PickleError('SETITEMS with an odd number of items');
        addItems(xs.length / 2);
        const d = top();
        for (let i = 0; i < xs.length; i += 2) setItem(d, xs[i], xs[i + 1]);
        break;
      }
      // ---- memo
      case 0x71:
        memoPut(u8(), top());
        break; // BINPUT
      case 0x72:
        memoPut(u32(), top());
        break; // LONG_BINPUT
      case 0x70:
        memoPut(Number(intText(line())), top());
        break; // PUT
      case 0x94:
        memoPut(memo.size, top());
        break; // MEMOIZE
      case 0x68:
        stack.push(memoGet(memo, u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(memo, u32()));
        break; // LONG_BINGET
      case 0x67:
        stack.push(memoGet(memo, Number(intText(line()))));
        break; // GET
      // ---- globals and object construction (never executed)
      case 0x63: {
        const module = line();
        const name = line();
        stack.push(findGlobal(module, name));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          throw new PickleError('STACK_GLOBAL expects two strings');
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!Array.isArray(args))
          throw new PickleError(`REDUCE arguments are not a tuple at offset ${at}`);
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args))
          throw new PickleError(`NEWOBJ arguments are not a tuple at offset ${at}`);
        stack.push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args))
          throw new PickleError(`NEWOBJ_EX arguments are not a tuple at offset ${at}`);
        const o = call(cls, args);
        if (o instanceof PickleObject && kwargs instanceof Map && kwargs.size) o.state = kwargs;
        stack.push(o);
        break;
      }
      case 0x6f: {
        // OBJ: MARK cls args... OBJ
        const xs = popMark();
        if (xs.length === 0) throw new PickleError('OBJ without a class');
        stack.push(call(xs[0], xs.slice(1)));
        break;
      }
      case 0x69: {
        // INST (text module/name) MARK args... INST
        const module = line();
        const name = line();
        const xs = popMark();
        stack.push(call(findGlobal(module, name), xs));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) — recorded, never executed
        const state = pop();
        const obj = top();
        if (obj instanceof PickleObject) obj.state = state;
        else if (obj instanceof Map && state instanceof Map) {
          step(state.size);
          addItems(state.size);
          for (const [k, v] of state) obj.set(k, v);
        } else if (obj instanceof TorchTensorLike) obj.state = state;
        // Other targets (e.g. tensors' empty state, OrderedDict's None) carry nothing we need.
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad)
          throw new PickleError(
            'pickle references external data (persistent id) but none can be resolved here',
          );
        newObject();
        stack.push(opts.persistentLoad(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!opts.persistentLoad)
          throw new PickleError(
            'pickle references external data (persistent id) but none can be resolved here',
          );
        newObject();
        stack.push(opts.persistentLoad(pid));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84: // EXT1/2/4
        throw new PickleError(
          `pickle opcode EXT (0x${op.toString(16)}) at offset ${at} refers to the copyreg extension registry; not supported`,
        );
      case 0x97:
      case 0x98: // NEXT_BUFFER / READONLY_BUFFER
        throw new PickleError(
          `pickle uses out-of-band buffers (opcode 0x${op.toString(16)} at offset ${at}); not supported`,
        );
      default:
        throw new PickleError(
          `unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${at} (corrupt or not a pickle)`,
        );
    }
    if (stack.length + buried > L.stack) throw tooMuch('stack values', L.stack);
    if (metastack.length > L.stack) throw tooMuch('nested MARKs', L.stack);
  }
}

/** Base class for values produced by safe callables that BUILD may annotate. */
export class TorchTensorLike {
  state: unknown = undefined;
}

class SafeGlobal {
  constructor(
    readonly qualname: string,
    readonly fn: SafeCallable,
  ) {}
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
  if (!/^[+-]?\d+$/.test(s.trim())) throw new PickleError(`invalid integer literal '${clip(s)}'`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function parseQuoted(s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q)
    throw new PickleError(`invalid STRING literal ${clip(s)}`);
  return s
    .slice(1, -1)
    .replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, h, c) =>
      h ? String.fromCharCode(parseInt(h, 16)) : c === 'n' ? '\n' : c === 't' ? '\t' : c,
    );
}

/** A name from the file, shortened for a one-line message. */
export function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PickleGlobal || v instanceof PickleObject) return v.toString();
  if (v instanceof Map) return 'dict';
  if (v instanceof PyTuple) return 'tuple';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}
