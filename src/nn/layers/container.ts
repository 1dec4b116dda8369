// Sequential (children named "0", "1", ... like torch.nn.Sequential) and ModuleList.
import type { Tensor } from '../../engine/index.js';
import { Module } from '../module.js';

export class Sequential extends Module {
  private readonly items: Module[] = [];
  /** Children named 0..n-1, or by the keys of a record (kept in order). */
  constructor(...mods: (Module | Record<string, Module>)[]) {
    super();
    for (const m of mods) {
      if (m instanceof Module) this.append(m);
      else
        for (const [k, v] of Object.entries(m)) {
          this.registerModule(k, v);
          this.items.push(v);
        }
    }
  }
  append(m: Module): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): Module {
    return this.items[i < 0 ? this.items.length + i : i];
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.items) y = m.forward(y);
    return y;
  }
}

export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];
  constructor(mods: M[] = []) {
    super();
    for (const m of mods) this.append(m);
  }
  append(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i < 0 ? this.items.length + i : i];
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
  forward(): Tensor {
    throw new Error('ModuleList has no forward(); iterate over its modules');
  }
}
