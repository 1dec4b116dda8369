// PLACEHOLDER (h-ddp): replaced by h-c10d's collectives core at merge time.
import type { Tensor } from './tensor.js';
export interface InitOptions { backend: 'gloo' | 'nccl'; rank: number; worldSize: number; masterAddr: string; masterPort: number; timeoutMs: number }
export class ProcessGroup {
  static async init(_o: InitOptions): Promise<ProcessGroup> { throw new Error('c10d collectives are not built into this addon'); }
  broadcast(_t: Tensor[], _root: number): void {}
  allReduce(_t: Tensor[], _op: 'sum' | 'avg' | 'max' | 'min'): void {}
  barrier(): void {}
  dispose(): void {}
}
export class GradSync {
  constructor(_pg: ProcessGroup, _params: Tensor[], _o: { bucketMB?: number }) {}
  prepare(): void {}
  finish(): void {}
  dispose(): void {}
}
