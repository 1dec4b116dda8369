// Module: the base of every layer and network, PyTorch style.
// - parameters, buffers and sub-modules are registered by name; their dotted paths
//   ("tcn_block.tcn_layers.0.conv_block.1.running_mean") are the state-dict keys, in PyTorch's
//   order (own parameters, own buffers, then children, recursively);
// - train()/eval() switch dropout, drop-path and BatchNorm behaviour;
// - stateDict()/loadStateDict() with shape/dtype checks and a missing/unexpected report;
// - parameters and buffers are kept tensors (outside every tidy scope) owned by the module:
//   dispose() frees them all.
import { printable } from '../io/printable.js';
import { Tensor, keep, tidy, fromBytes, noGrad, checkDevice } from '../engine/index.js';
import type { DType } from '../engine/index.js';
import type { RawTensor } from '../io/safetensors.js';
import {
  isFloatDType as isFloat,
  sameShapeIgnoringOnes as sameIgnoringOnes,
} from './state_match.js';

export class StateDictError extends Error {
  override name = 'StateDictError';
}

/** Result of loadStateDict: keys the module has but the dict lacks, and the reverse. */
export interface LoadReport {
  missing: string[];
  unexpected: string[];
  /** tensors reshaped because they differed only by size-1 dimensions (e.g. Linear vs 1×1 conv) */
  reshaped: string[];
}

export type StateValue = Tensor | RawTensor;

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _nonPersistent = new Set<string>();
  private readonly _modules = new Map<string, Module>();

  /** The computation (x: the main input; attention takes key/value after it). */
  abstract forward(x: Tensor, ...rest: any[]): Tensor;

  // ------------------------------------------------------------------ registration
  /** Registers (or replaces) a parameter; the tensor is kept and marked requiresGrad. */
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    checkName(name, this._modules.has(name) || this._buffers.has(name));
    if (t) {
      keep(t);
      if (!t.requiresGrad) t.requiresGrad_(true);
    }
    this._params.get(name)?.dispose();
    this._params.set(name, t);
    return t;
  }

  protected registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    checkName(name, this._modules.has(name) || this._params.has(name));
    if (t) keep(t);
    this._buffers.get(name)?.dispose();
    this._buffers.set(name, t);
    if (!persistent) this._nonPersistent.add(name);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    checkName(name, this._params.has(name) || this._buffers.has(name));
    this._modules.set(name, m);
    return m;
  }

  /** A registered parameter (throws if absent or null). */
  protected param(name: string): Tensor {
    const t = this._params.get(name);
    if (!t) throw new StateDictError(`${this.constructor.name}: no parameter '${name}'`);
    return t;
  }
  protected paramOrNull(name: string): Tensor | null {
    return this._params.get(name) ?? null;
  }
  protected buffer(name: string): Tensor {
    const t = this._buffers.get(name);
    if (!t) throw new StateDictError(`${this.constructor.name}: no buffer '${name}'`);
    return t;
  }
  protected bufferOrNull(name: string): Tensor | null {
    return this._buffers.get(name) ?? null;
  }

  // ------------------------------------------------------------------ traversal
  *namedChildren(): Generator<[string, Module]> {
    yield* this._modules;
  }
  child(name: string): Module {
    const m = this._modules.get(name);
    if (!m) throw new StateDictError(`${this.constructor.name}: no sub-module '${name}'`);
    return m;
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this._params) if (p) yield [join(prefix, n), p];
    for (const [n, m] of this._modules) yield* m.namedParameters(join(prefix, n));
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [n, b] of this._buffers)
      if (b && !(persistentOnly && this._nonPersistent.has(n))) yield [join(prefix, n), b];
    for (const [n, m] of this._modules) yield* m.namedBuffers(join(prefix, n), persistentOnly);
  }

  /** Number of parameter elements (trainable only: requiresGrad). */
  numParameters(trainableOnly = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  // ------------------------------------------------------------------ modes
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Freezes (false) or unfreezes (true) every parameter, e.g. for fine-tuning only a head. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /** Calls fn on every module of the tree (root first), like torch's Module.apply. */
  apply(fn: (m: Module, name: string) => void): this {
    for (const [n, m] of this.namedModules()) fn(m, n);
    return this;
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  // ------------------------------------------------------------------ state dict
  /** Parameters and persistent buffers by dotted name, PyTorch order. Tensors are the live ones (not copies). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string) => {
      for (const [n, p] of m._params) if (p) out.set(join(prefix, n), p);
      for (const [n, b] of m._buffers)
        if (b && !m._nonPersistent.has(n)) out.set(join(prefix, n), b);
      for (const [n, c] of m._modules) visit(c, join(prefix, n));
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values into the module's tensors (in place, so optimizers keep their references).
   * Checks shapes (size-1 dimensions may differ: Linear ↔ 1×1 conv weights) and converts dtypes
   * of floating tensors; integer buffers (num_batches_tracked) must stay integer.
   * strict (default true): throws listing missing and unexpected keys.
   */
  loadStateDict(
    dict: Map<string, StateValue> | Record<string, StateValue>,
    opts: { strict?: boolean } = {},
  ): LoadReport {
    const strict = opts.strict ?? true;
    const src = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      throw new StateDictError(
        `loadStateDict: ${missing.length} missing, ${unexpected.length} unexpected keys` +
          (missing.length ? `; missing: ${preview(missing)}` : '') +
          (unexpected.length ? `; unexpected: ${preview(unexpected)}` : ''),
      );
    }
    const reshaped: string[] = [];
    const problems: string[] = [];
    // validate everything first: nothing is modified when a tensor does not fit
    const plan: [Tensor, StateValue, boolean][] = [];
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (v === undefined) continue;
      const shape = v instanceof Tensor ? v.shape : v.shape;
      const dtype = v instanceof Tensor ? v.dtype : v.dtype;
      const same = sameShape(shape, dst.shape);
      if (!same && !sameIgnoringOnes(shape, dst.shape)) {
        problems.push(
          `${k}: shape [${shape.join(', ')}] does not match the model's [${dst.shape.join(', ')}]`,
        );
        continue;
      }
      if (isFloat(dst.dtype) !== isFloat(dtype)) {
        problems.push(`${k}: dtype ${dtype} cannot load into ${dst.dtype}`);
        continue;
      }
      if (!same) reshaped.push(k);
      plan.push([dst, v, !same]);
    }
    if (problems.length)
      throw new StateDictError(
        `loadStateDict: ${problems.length} tensors do not fit: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; … ${problems.length - 3} more` : ''}`,
      );
    noGrad(() => {
      for (const [dst, v] of plan) {
        tidy(() => {
          let t = v instanceof Tensor ? v : fromBytes(v.data, v.dtype as DType, v.shape);
          if (!sameShape(t.shape, dst.shape)) t = t.reshape(dst.shape);
          if (t.dtype !== dst.dtype || t.device !== dst.device)
            t = t.to({ dtype: dst.dtype, device: dst.device });
          dst.copy_(t);
        });
      }
    });
    return { missing, unexpected, reshaped };
  }

  // ------------------------------------------------------------------ device / dtype / lifetime
  /**
   * Moves/converts every parameter and buffer (floating buffers follow `dtype`, integer
   * buffers keep theirs; `memoryFormat: 'channelsLast'` re-lays out 4-d ones, like
   * torch's module.to(memory_format=...)). Tensors are replaced: re-create optimizers afterwards.
   */
  to(
    target:
      { device?: string; dtype?: DType; memoryFormat?: 'contiguous' | 'channelsLast' } | string,
  ): this {
    const o: { device?: string; dtype?: DType; memoryFormat?: 'contiguous' | 'channelsLast' } =
      typeof target === 'string'
        ? isDTypeName(target)
          ? { dtype: target as DType }
          : { device: target }
        : target;
    const relayout = (t: Tensor) =>
      o.memoryFormat !== undefined && t.ndim === 4 && !t.isContiguous(o.memoryFormat);
    const dev = o.device === undefined ? undefined : checkDevice(o.device);
    for (const m of this.modules()) {
      for (const [n, p] of m._params) {
        if (!p) continue;
        const dt = o.dtype && isFloat(p.dtype) ? o.dtype : p.dtype;
        if (dt === p.dtype && (!dev || dev === p.device) && !relayout(p)) continue;
        const q = noGrad(() =>
          p
            .to({
              dtype: dt,
              device: dev ?? p.device,
              ...(relayout(p) ? { memoryFormat: o.memoryFormat } : {}),
            })
            .detach(),
        );
        p.dispose();
        m._params.set(n, keep(q).requiresGrad_(true));
      }
      for (const [n, b] of m._buffers) {
        if (!b) continue;
        const dt = o.dtype && isFloat(b.dtype) ? o.dtype : b.dtype;
        if (dt === b.dtype && (!dev || dev === b.device) && !relayout(b)) continue;
        const q = noGrad(() =>
          b.to({
            dtype: dt,
            device: dev ?? b.device,
            ...(relayout(b) ? { memoryFormat: o.memoryFormat } : {}),
          }),
        );
        b.dispose();
        m._buffers.set(n, keep(q));
      }
    }
    return this;
  }

  /** Frees every parameter and buffer of this module tree. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m._params.values()) t?.dispose();
      for (const t of m._buffers.values()) t?.dispose();
      m._params.clear();
      m._buffers.clear();
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** One line per module with its parameter count (like printing a torch module). */
  toString(): string {
    const lines: string[] = [];
    for (const [n, m] of this.namedModules()) {
      const own = [...m._params.values()].reduce((s, p) => s + (p?.numel ?? 0), 0);
      const depth = n ? n.split('.').length : 0;
      lines.push(
        `${'  '.repeat(depth)}${n || '(root)'}: ${m.constructor.name}${m.extraRepr() ? `(${m.extraRepr()})` : ''}${own ? ` [${own} params]` : ''}`,
      );
    }
    return lines.join('\n');
  }
  protected extraRepr(): string {
    return '';
  }
}

const join = (prefix: string, n: string) => (prefix ? `${prefix}.${n}` : n);
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);
const isDTypeName = (s: string) =>
  [
    'float32',
    'float64',
    'float16',
    'bfloat16',
    'int64',
    'int32',
    'int16',
    'int8',
    'uint8',
    'bool',
  ].includes(s);
const preview = (keys: string[]) => {
  const shown = keys.slice(0, 12).map((k) => printable(k, 80)); // keys of a stranger's file
  return keys.length > 12 ? `${shown.join(', ')} … (+${keys.length - 12})` : shown.join(', ');
};

function checkName(name: string, clash: boolean): void {
  if (!name || name.includes('.'))
    throw new StateDictError(`invalid module attribute name '${name}' (non-empty, no dots)`);
  if (clash)
    throw new StateDictError(
      `'${name}' is already registered as another kind (parameter/buffer/module)`,
    );
}
