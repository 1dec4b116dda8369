// What a PyTorch Lightning checkpoint of the reference implementation carries besides its
// `state_dict`, read from the restricted unpickler's output (src/io/pickle.ts: nothing executed):
//   hyper_parameters  the Hydra config — a plain dict, a Lightning AttributeDict or an omegaconf
//                     DictConfig pickled with its node objects (DictConfig/ListConfig keep their
//                     items in `_content`, value nodes their value in `_val`) — read as plain data
//   callbacks         the EMA callback's state (the weights the reference validates with)
import { PickleObject } from './pickle.js';
import { TorchTensorRef } from './torch_checkpoint.js';

/** Bounds of the walk over hyper-parameters (a stranger's pickle: cycles through `_parent`, depth). */
const MAX_DEPTH = 24;
const MAX_NODES = 200_000;

type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

/**
 * Hyper-parameter objects as plain data: dicts → objects (string keys), lists/tuples → arrays,
 * omegaconf containers → their content, omegaconf value nodes → their value, other pickled
 * objects → their dict state; anything else (tensors, globals, bigints) → null. Only `_content`
 * and `_val` are followed in omegaconf objects, so `_parent` back-links never loop; depth and
 * node count are bounded.
 */
export function plainData(v: unknown): Plain {
  let nodes = 0;
  const walk = (x: unknown, depth: number): Plain => {
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) return null;
    if (x === null || x === undefined) return null;
    if (typeof x === 'boolean' || typeof x === 'string') return x;
    if (typeof x === 'number') return Number.isFinite(x) ? x : null;
    if (Array.isArray(x)) return x.map((e) => walk(e, depth + 1));
    if (x instanceof Map) {
      const o: { [k: string]: Plain } = Object.create(null);
      for (const [k, e] of x)
        if (typeof k === 'string' || typeof k === 'number') o[String(k)] = walk(e, depth + 1);
      return o;
    }
    if (x instanceof PickleObject) {
      const st = x.state;
      if (x.cls.module.startsWith('omegaconf')) {
        if (st instanceof Map) {
          if (st.has('_content')) return walk(st.get('_content'), depth + 1);
          if (st.has('_val')) return walk(st.get('_val'), depth + 1);
        }
        return null;
      }
      // a plain Python object (its __dict__) or a dict subclass (its items)
      return st instanceof Map ? walk(st, depth + 1) : null;
    }
    return null;
  };
  return walk(v, 0);
}

/** The first value of `key` in a breadth-first walk of plain data (bounded by plainData). */
export function findKey(data: Plain, key: string): Plain | undefined {
  const queue: Plain[] = [data];
  for (let i = 0; i < queue.length && i < MAX_NODES; i++) {
    const x = queue[i];
    if (x === null || typeof x !== 'object') continue;
    if (!Array.isArray(x) && Object.hasOwn(x, key)) return x[key];
    for (const v of Array.isArray(x) ? x : Object.values(x))
      if (v !== null && typeof v === 'object') queue.push(v);
  }
  return undefined;
}

/** The checkpoint's hyper-parameters as plain data, or undefined when it has none. */
export function lightningHparams(root: unknown): Plain | undefined {
  if (!(root instanceof Map) || !root.has('hyper_parameters')) return undefined;
  const hp = plainData(root.get('hyper_parameters'));
  return hp === null ? undefined : hp;
}

export interface HparamLabels {
  labels?: string[];
  /** how they were chosen, for the report */
  how: string;
  /** why they could not be (one line) */
  problem?: string;
}

/**
 * The reference's class names from its hyper-parameters: `words_list` (index = class id) when
 * it is a list of `classes` names, else `words` = N: the first N words of its seed-42 order.
 */
export function labelsFromHparams(
  hp: Plain,
  classes: number,
  seed42: readonly string[],
): HparamLabels {
  const list = findKey(hp, 'words_list');
  if (Array.isArray(list) && list.length) {
    if (!list.every((w) => typeof w === 'string'))
      return { how: 'words_list', problem: 'hyper-parameter words_list holds non-strings' };
    if (list.length !== classes)
      return {
        how: 'words_list',
        problem: `hyper-parameter words_list names ${list.length} words but the checkpoint has ${classes} classes`,
      };
    return { labels: list as string[], how: `hyper-parameters words_list (${classes} words)` };
  }
  const words = findKey(hp, 'words');
  if (words === undefined)
    return { how: 'none', problem: 'the hyper-parameters name no words or words_list' };
  const n = words === null ? seed42.length : words;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    return {
      how: 'words',
      problem: `hyper-parameter words is ${JSON.stringify(words)?.slice(0, 40)}, not a word count`,
    };
  if (n !== classes)
    return {
      how: 'words',
      problem: `hyper-parameter words = ${n} but the checkpoint has ${classes} classes`,
    };
  if (n > seed42.length)
    return {
      how: 'words',
      problem: `hyper-parameter words = ${n}, more than the ${seed42.length} words of the seed-42 order`,
    };
  return {
    labels: seed42.slice(0, n),
    how: `seed42 order, first ${n} (hyper-parameter words = ${n})`,
  };
}

const hasTensor = (v: Map<unknown, unknown>): boolean => {
  for (const x of v.values()) if (x instanceof TorchTensorRef) return true;
  return false;
};

/**
 * The EMA weights of a Lightning checkpoint: a dict of tensors inside the state of a callback
 * whose name says EMA (e.g. `callbacks['EMA']['ema_state_dict']`, searched breadth-first to
 * depth 3), keys as stored. Null when the checkpoint carries none. Each dict or object is visited
 * once (a dict holding itself K times would be K^3 paths) and at most MAX_NODES items are looked
 * at in all; past that the search gives up as if there were none.
 */
export function emaStateDict(
  root: unknown,
): { dict: Map<unknown, unknown>; foundAt: string } | null {
  if (!(root instanceof Map)) return null;
  const cbs = root.get('callbacks');
  if (!(cbs instanceof Map)) return null;
  const seen = new Set<unknown>();
  let items = 0;
  for (const [name, state] of cbs) {
    if (typeof name !== 'string' || !/ema|exponential.?moving/i.test(name)) continue;
    const queue: [unknown, string, number][] = [[state, `callbacks['${name}']`, 0]];
    for (let i = 0; i < queue.length; i++) {
      const [v, where, depth] = queue[i];
      const inner = v instanceof PickleObject ? v.state : v;
      if (!(inner instanceof Map) || seen.has(v)) continue;
      seen.add(v);
      items += inner.size;
      if (items > MAX_NODES) return null;
      if (v === inner && hasTensor(inner)) return { dict: inner, foundAt: where };
      if (depth >= 3) continue;
      for (const [k, x] of inner)
        if (typeof k === 'string') queue.push([x, `${where}['${k}']`, depth + 1]);
    }
  }
  return null;
}
