// Ownership of native tensor memory (JS GC does not see it).
//
// Rules (docs/engine.md):
//  - Every op result is owned by the innermost tidy() scope; when the callback returns, all
//    tensors it owned are disposed except the ones returned (also inside arrays / plain
//    objects / Maps), which move to the parent scope, and the ones passed to keep().
//  - Outside any scope, results are owned by the caller (dispose() them, or let the GC
//    backstop free them eventually).
//  - dispose() / [Symbol.dispose] free early; using a disposed tensor throws DisposedError.
//  - liveTensors() counts native handles, so leaks are testable.
import { native } from './native.js';
import { EngineError } from './errors.js';

/** What a scope tracks: anything with an idempotent dispose(). */
export interface Owned {
  dispose(): void;
  /** set by keep(); kept tensors are never disposed by scopes */
  _kept: boolean;
  /** called when the tensor ends up owned by the caller (outside every scope) */
  _escape(): void;
  /** marks the tensor disposed and returns its native handle (-1 if already disposed) */
  _release(): number;
}

const scopes: Owned[][] = [];

/** Registers a fresh result with the innermost scope (or hands it to the caller). */
export function track(t: Owned): void {
  const n = scopes.length;
  if (n > 0) scopes[n - 1].push(t);
  else t._escape();
}

/** Runs fn in a new scope; disposes every tensor created inside except returned/kept ones. */
export function tidy<T>(fn: () => T): T {
  const mine: Owned[] = [];
  scopes.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of mine) if (!t._kept) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of mine) if (!t._kept) t.dispose();
    throw new EngineError(
      'tidy() callbacks must be synchronous (got a Promise); use explicit dispose() across await',
    );
  }
  const returned = new Set<Owned>();
  collect(result, returned, 0);
  // free in one native call
  const handles = new Int32Array(mine.length);
  let n = 0;
  for (const t of mine) {
    if (t._kept) continue;
    if (returned.has(t)) track(t);
    else {
      const hd = t._release();
      if (hd >= 0) handles[n++] = hd;
    }
  }
  if (n > 0) native.disposeMany(n === handles.length ? handles : handles.subarray(0, n));
  return result;
}

function collect(v: unknown, out: Set<Owned>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 8) return;
  if (typeof (v as Owned).dispose === 'function' && '_kept' in (v as object)) {
    out.add(v as Owned);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) collect(x, out, depth + 1);
}

/** Exempts t from every scope: the caller owns it until t.dispose(). Returns t. */
export function keep<T extends Owned>(t: T): T {
  if (!t._kept) {
    t._kept = true;
    t._escape();
  }
  return t;
}

/** Number of live native tensor handles (for leak tests). */
export function liveTensors(): number {
  return native.live();
}

/** Depth of the current tidy nesting (0 outside). */
export function scopeDepth(): number {
  return scopes.length;
}
