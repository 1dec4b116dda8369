// PyTorch checkpoint reader (.pt/.pth/.ckpt written by torch.save ≥ 1.6: a zip holding
// `<prefix>/data.pkl` + `<prefix>/data/<key>` raw storages + `<prefix>/byteorder`).
// Pickle runs through the restricted unpickler (src/io/pickle.ts): nothing is ever executed.
// Tensors stay lazy (`TorchTensorRef`) until materialize(), so optimizer states cost nothing:
// a file is read straight from disk, and only the storages of the tensors used are read.
// Every declared size (pickle, storage, tensor view) is checked before anything is read, and the
// bytes the views materialise are bounded by the file's size (ViewBudget): views can repeat
// stored bytes (stride 0, overlapping offsets), so a 66 KB file could otherwise ask for 500 MB.
import { printable } from './printable.js';
import { ZipError, ZipReader, fileSource, memorySource, type ByteSource } from './zip.js';
import {
  PickleError,
  PickleGlobal,
  PickleObject,
  TorchTensorLike,
  unpickle,
  describe,
  clip,
  type PyDict,
  type SafeCallable,
} from './pickle.js';
import { DTYPE_BYTES, numel, type DType, type RawTensor } from './safetensors.js';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** data.pkl holds structure only (tensor data are separate entries); ~100 KB for model S. */
export const MAX_PICKLE_BYTES = 256 << 20;
/** One tensor materialized in memory (a whole 2 GB checkpoint could be one tensor). */
export const MAX_TENSOR_BYTES = 2 ** 31;
/** torch supports at most 64 dimensions. */
const MAX_RANK = 64;
/**
 * All tensors of one checkpoint materialise at most VIEW_FLOOR + VIEW_RATIO × the file's size.
 * A real checkpoint stores every byte it loads (a model and its EMA copy, optimizer state: the
 * weights are a fraction of the file; tied weights repeat a tensor or two); the floor lets small
 * files with shared weights load whatever they repeat.
 */
export const VIEW_FLOOR = 64 << 20;
export const VIEW_RATIO = 4;

/** The bytes the tensors of one checkpoint may materialise together (VIEW_FLOOR, VIEW_RATIO). */
export class ViewBudget {
  readonly limit: number;
  private used = 0;
  constructor(
    readonly fileBytes: number,
    readonly source: string,
    /** the checkpoint's archive (checkLoad asks it about its storages' entries) */
    readonly zip: ZipReader,
  ) {
    this.limit = VIEW_FLOOR + VIEW_RATIO * fileBytes;
  }
  /** Refuses, naming `what`, when `bytes` more would pass the limit. */
  check(bytes: number, what: string): void {
    if (this.used + bytes > this.limit)
      throw new CheckpointError(
        `${this.source}: ${what} would materialise ${bytes} bytes${this.used ? ` (${this.used + bytes} in all)` : ''} from a ${this.fileBytes}-byte file, over the ${this.limit}-byte limit (${VIEW_FLOOR >> 20} MiB + ${VIEW_RATIO} × the file's size): views repeating the stored bytes (stride 0 or overlapping)`,
      );
  }
  /** check(), then counts the bytes as materialised. */
  take(bytes: number, what: string): void {
    this.check(bytes, what);
    this.used += bytes;
  }
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

/** One storage of the archive; its bytes are read on first use. */
export class TorchStorage {
  private cache: Uint8Array | null = null;
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly location: string,
    /** its entry in the archive */
    readonly entry: string,
    private readonly load: () => Uint8Array,
    /** shared by every storage of the checkpoint */
    readonly budget: ViewBudget,
  ) {}
  get byteLength(): number {
    return this.numel * DTYPE_BYTES[this.dtype];
  }
  bytes(): Uint8Array {
    if (!this.cache) {
      const b = this.load();
      if (b.byteLength < this.byteLength)
        throw new CheckpointError(
          `storage ${this.key}: ${b.byteLength} bytes, expected ${this.byteLength}`,
        );
      this.cache = b;
    }
    return this.cache;
  }
}

/** A tensor inside a checkpoint (view of a storage: offset + shape + strides, in elements). */
export class TorchTensorRef extends TorchTensorLike {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {
    super();
    const what = `tensor [${shape}] (offset ${offset}, stride [${stride}])`;
    if (shape.length !== stride.length)
      throw new CheckpointError(`tensor shape [${shape}] and stride [${stride}] differ in rank`);
    if (offset < 0 || shape.some((d) => d < 0) || stride.some((d) => d < 0))
      throw new CheckpointError(`${what} has a negative size, stride or offset`);
    let n = 1;
    for (const d of shape) {
      n *= d;
      if (n > Number.MAX_SAFE_INTEGER)
        throw new CheckpointError(`${what} declares more than 2^53 elements`);
    }
    if (n > 0) {
      // the last element the view reaches must lie in the storage (exact: every term < 2^53)
      let last = offset;
      for (let i = 0; i < shape.length; i++) {
        last += (shape[i] - 1) * stride[i];
        if (last >= storage.numel) {
          throw new CheckpointError(
            `${what} reaches outside its storage of ${storage.numel} elements`,
          );
        }
      }
    }
  }
  get dtype(): DType {
    return this.storage.dtype;
  }

  /** dtype and shape now; the data are read (materialize) only when `data` is first used. */
  lazy(): RawTensor {
    let data: Uint8Array | null = null;
    const self = this;
    return {
      dtype: this.dtype,
      shape: [...this.shape],
      get data(): Uint8Array {
        return (data ??= self.materialize().data);
      },
    };
  }

  /** Bytes of the tensor once materialised (C order). */
  get byteLength(): number {
    return numel(this.shape) * DTYPE_BYTES[this.dtype];
  }

  /**
   * The tensor's bytes in C order: a view of the storage when the tensor is contiguous (no copy;
   * treat as read-only), else a contiguous copy. Every call counts against the checkpoint's
   * ViewBudget (the caller copies even a view into its own tensors).
   */
  materialize(): RawTensor {
    const es = DTYPE_BYTES[this.dtype];
    const n = numel(this.shape);
    if (n * es > MAX_TENSOR_BYTES) {
      throw new CheckpointError(
        `tensor ${this.dtype}[${this.shape}] would take ${n * es} bytes, over the ${MAX_TENSOR_BYTES}-byte limit for one tensor`,
      );
    }
    this.storage.budget.take(n * es, `tensor ${this.dtype}[${this.shape}]`);
    const src = this.storage.bytes();
    if (n > 0 && isContiguous(this.shape, this.stride)) {
      return {
        dtype: this.dtype,
        shape: [...this.shape],
        data: src.subarray(this.offset * es, (this.offset + n) * es),
      };
    }
    const out = new Uint8Array(n * es);
    if (n > 0) {
      const rank = this.shape.length;
      const idx = new Array(rank).fill(0);
      let srcEl = this.offset;
      for (let i = 0; i < n; i++) {
        for (let b = 0, o = i * es, q = srcEl * es; b < es; b++) out[o + b] = src[q + b]; // no per-element allocation
        for (let d = rank - 1; d >= 0; d--) {
          // odometer over the shape
          idx[d]++;
          srcEl += this.stride[d];
          if (idx[d] < this.shape[d]) break;
          srcEl -= this.stride[d] * this.shape[d];
          idx[d] = 0;
        }
      }
    }
    return { dtype: this.dtype, shape: [...this.shape], data: out };
  }
}

/**
 * Refuses, before anything is read, tensors whose loading would pass a bound of their checkpoint:
 * their storages' deflated entries inflating past the archive's limit (ZipReader.checkInflate),
 * or the views materialising more than its ViewBudget. For the weights a network is about to be
 * built for: a refusal then costs no network.
 */
export function checkLoad(tensors: Iterable<TorchTensorRef>, what = 'the tensors to load'): void {
  const groups = new Map<ViewBudget, { entries: Set<string>; bytes: number }>();
  for (const t of new Set(tensors)) {
    const st = t.storage;
    let g = groups.get(st.budget);
    if (!g) groups.set(st.budget, (g = { entries: new Set(), bytes: 0 }));
    g.entries.add(st.entry);
    g.bytes += t.byteLength;
  }
  for (const [budget, g] of groups) {
    budget.zip.checkInflate(g.entries);
    budget.check(g.bytes, what);
  }
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) return false;
    expect *= shape[d];
  }
  return true;
}

export interface TorchCheckpoint {
  /** The unpickled object: Maps for dicts, arrays for lists/tuples, TorchTensorRef for tensors,
   *  PickleObject placeholders for anything else. */
  root: unknown;
  /** Every archive entry name (diagnostics). */
  entries: string[];
}

const asInt = (v: unknown, what: string): number => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new CheckpointError(`${what}: expected an integer, got ${describe(v)}`);
};
const asIntList = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v)) throw new CheckpointError(`${what}: expected a tuple, got ${describe(v)}`);
  if (v.length > MAX_RANK)
    throw new CheckpointError(`${what}: ${v.length} dimensions, more than torch's ${MAX_RANK}`);
  return v.map((x, i) => asInt(x, `${what}[${i}]`));
};

/** Parse a torch.save zip checkpoint held in memory or read on demand from a file. */
export function parseTorchCheckpoint(
  data: Uint8Array | ByteSource,
  source = 'checkpoint',
): TorchCheckpoint {
  const src = data instanceof Uint8Array ? memorySource(data) : data;
  const bytes = src.read(0, Math.min(src.size, 512)); // the format is told by the first bytes
  if (!ZipReader.isZip(bytes)) {
    if (bytes.length > 2 && bytes[0] === 0x80 && bytes[1] === 0x02 && bytes[2] === 0x8a) {
      throw new CheckpointError(
        `${source}: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with ` +
          `torch.save(torch.load(path), path) in PyTorch >= 1.6`,
      );
    }
    if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
      throw new CheckpointError(
        `${source}: legacy tar torch.save format is not supported; re-save it with PyTorch >= 1.6`,
      );
    }
    throw new CheckpointError(`${source}: not a PyTorch zip checkpoint (no zip signature)`);
  }
  const zip = new ZipReader(src, source);
  const budget = new ViewBudget(src.size, source, zip);
  const pkl = zip.names().find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl)
    throw new CheckpointError(`${source}: zip has no data.pkl (not a torch.save checkpoint)`);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const bo = prefix + 'byteorder';
  if (zip.has(bo)) {
    const order = new TextDecoder().decode(zip.read(bo, 64)).trim();
    if (order !== 'little')
      throw new CheckpointError(
        `${source}: byte order '${clip(order)}' is not supported (little-endian only)`,
      );
  }
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new CheckpointError(`${source}: unsupported persistent id ${describe(pid)}`);
    }
    const [, type, keyRaw, location, count] = pid;
    const typeName =
      type instanceof PickleGlobal ? type.name : typeof type === 'string' ? type : describe(type);
    const dtype = Object.hasOwn(STORAGE_DTYPES, typeName) ? STORAGE_DTYPES[typeName] : undefined;
    if (!dtype) throw new CheckpointError(`${source}: unsupported storage type ${clip(typeName)}`);
    if (typeof keyRaw !== 'string' && typeof keyRaw !== 'number')
      throw new CheckpointError(`${source}: storage key is a ${describe(keyRaw)}, not a string`);
    const key = String(keyRaw);
    if (key.length > 256)
      throw new CheckpointError(
        `${source}: storage key '${clip(key)}' is too long (corrupt checkpoint)`,
      );
    let st = storages.get(key);
    if (!st) {
      const entry = `${prefix}data/${key}`;
      const ent = zip.entries.get(entry);
      if (!ent) throw new CheckpointError(`${source}: storage '${entry}' missing from the archive`);
      const n = asInt(count, 'storage size');
      if (n < 0)
        throw new CheckpointError(`${source}: storage '${entry}' declares a negative size ${n}`);
      // UntypedStorage counts bytes; typed storages count elements.
      const nbytes = n * DTYPE_BYTES[dtype];
      if (nbytes !== ent.size) {
        throw new CheckpointError(
          `${source}: storage '${entry}' declares ${n} ${dtype} elements (${nbytes} bytes) but the archive entry holds ${ent.size} bytes`,
        );
      }
      st = new TorchStorage(
        key,
        dtype,
        n,
        typeof location === 'string' ? location : describe(location),
        entry,
        () => zip.read(entry, nbytes),
        budget,
      );
      storages.set(key, st);
    }
    return st;
  };
  const rebuildTensor = (a: readonly unknown[]): TorchTensorRef => {
    const storage = a[0];
    if (!(storage instanceof TorchStorage))
      throw new CheckpointError(`${source}: tensor without a storage (${describe(storage)})`);
    return new TorchTensorRef(
      storage,
      asInt(a[1], 'tensor storage offset'),
      asIntList(a[2], 'tensor size'),
      asIntList(a[3], 'tensor stride'),
      a[4] === true,
    );
  };
  const passFirst: SafeCallable = (a) => a[0];
  const globals: Record<string, SafeCallable> = {
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_tensor': rebuildTensor,
    'torch._utils._rebuild_parameter': passFirst,
    'torch._utils._rebuild_parameter_with_state': passFirst,
    'torch.Size': (a) => {
      if (!Array.isArray(a[0]) || a[0].length > MAX_RANK)
        throw new CheckpointError(
          `${source}: torch.Size of ${describe(a[0])} is not a tuple of at most ${MAX_RANK} sizes`,
        );
      return [...a[0]];
    },
    // torch ≥ 1.12 wraps tensor subclasses: _rebuild_from_type_v2(func, type, args, state)
    'torch._tensor._rebuild_from_type_v2': (a, budget) => {
      const fn = a[0] as { fn?: SafeCallable } | undefined;
      const args = a[2];
      if (!fn || typeof fn.fn !== 'function' || !Array.isArray(args))
        return new PickleObject(new PickleGlobal('torch._tensor', '_rebuild_from_type_v2'), [...a]);
      let n = args.length;
      for (const x of args) n += Array.isArray(x) ? x.length : 1;
      budget.step(n);
      return fn.fn(args, budget);
    },
  };
  let root: unknown;
  try {
    root = unpickle(zip.read(pkl, MAX_PICKLE_BYTES), { globals, persistentLoad });
  } catch (e) {
    if (
      e instanceof PickleError ||
      (e instanceof CheckpointError && !e.message.startsWith(`${source}: `))
    ) {
      throw new CheckpointError(`${source}: ${e.message}`);
    }
    throw e;
  }
  return { root, entries: zip.names() };
}

export function readTorchCheckpoint(path: string): TorchCheckpoint {
  let src: ByteSource;
  try {
    src = fileSource(path);
  } catch (e) {
    throw new CheckpointError(
      e instanceof ZipError ? e.message : `cannot read ${path}: ${(e as Error).message}`,
    );
  }
  return parseTorchCheckpoint(src, path);
}

const isTensorDict = (v: unknown): v is PyDict =>
  v instanceof Map && v.size > 0 && [...v.values()].some((x) => x instanceof TorchTensorRef);

export interface ExtractedStateDict {
  /** Tensors by key, prefixes stripped. */
  tensors: Map<string, TorchTensorRef>;
  /** Where in the checkpoint it was found ('state_dict', 'model', '<root>'...). */
  foundAt: string;
  /** Prefix removed from every key (e.g. 'model.'), '' if none. */
  strippedPrefix: string;
  /** Entries that were not tensors (skipped). */
  skipped: string[];
  /** Other top-level fields of a training checkpoint (epoch, global_step...) for reports. */
  info: Record<string, string>;
}

/**
 * Find the model's state dict inside a checkpoint: Lightning (`state_dict`), common training
 * scripts (`model_state_dict`, `model`, `state_dict`, `net`), or a bare state dict. Keys lose the
 * first of `prefixes` that every key of the dict starts with (default `model.` then `module.`).
 */
export function extractStateDict(
  root: unknown,
  prefixes: string[] = ['model.', 'module.'],
): ExtractedStateDict {
  let dict: PyDict | null = null;
  let foundAt = '';
  const info: Record<string, string> = {};
  if (root instanceof Map) {
    for (const k of ['state_dict', 'model_state_dict', 'model', 'net', 'ema_state_dict']) {
      if (isTensorDict(root.get(k))) {
        dict = root.get(k) as PyDict;
        foundAt = k;
        break;
      }
    }
    if (!dict && isTensorDict(root)) {
      dict = root;
      foundAt = '<root>';
    }
    for (const [k, v] of root) {
      if (
        typeof k === 'string' &&
        (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
      )
        info[k] = String(v);
    }
  } else if (root instanceof PickleObject && isTensorDict(root.state)) {
    dict = root.state as PyDict;
    foundAt = root.cls.qualname;
  }
  if (!dict) {
    throw new CheckpointError(
      `no state dict found: the checkpoint holds ${describe(root)}` +
        (root instanceof Map
          ? ` with keys ${[...root.keys()]
              .slice(0, 12)
              .map((k) => printable(String(k), 60))
              .join(', ')}`
          : '') +
        ' (expected a dict of tensors, or one under state_dict / model_state_dict / model)',
    );
  }
  const tensors = new Map<string, TorchTensorRef>();
  const skipped: string[] = [];
  const keys = [...dict.keys()].map(String);
  // a prefix every key has is stripped; else, when some keys carry one (a Lightning module
  // holding the network plus other sub-modules, e.g. "model." and "ema_model."), only those are taken
  let strippedPrefix =
    prefixes.find((p) => keys.length > 0 && keys.every((k) => k.startsWith(p))) ?? '';
  let only = false;
  if (!strippedPrefix) {
    const p = prefixes.find((q) => keys.some((k) => k.startsWith(q)));
    if (p && !keys.some((k) => k.startsWith('fc_layer.'))) {
      strippedPrefix = p;
      only = true;
    }
  }
  for (const [k, v] of dict) {
    const key = String(k);
    if (only && !key.startsWith(strippedPrefix)) {
      skipped.push(key);
      continue;
    }
    const name = key.slice(strippedPrefix.length);
    if (v instanceof TorchTensorRef) tensors.set(name, v);
    else skipped.push(key);
  }
  return { tensors, foundAt, strippedPrefix, skipped, info };
}
