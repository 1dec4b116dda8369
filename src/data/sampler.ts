// DistributedSampler semantics: which part of an epoch's order one rank reads. The epoch order
// is the same permutation for every world size (it depends on the seed and the epoch only);
// rank r of W takes positions r, r+W, r+2W, ... For training the order is first padded to a
// multiple of W by repeating its start, so every rank gets the same number of clips and the
// ranks' batches at step s together cover positions [s·B·W, (s+1)·B·W) of the epoch — the batch
// a single process with batch B·W reads. Evaluation does not pad (every clip counted once).

export interface Shard {
  rank: number;
  world: number;
}

export interface ShardedOrder {
  /** dataset indices this rank reads, in order */
  indices: Int32Array;
  /** position of each in the (padded) epoch order: the seed of its augmentation */
  positions: Int32Array;
}

/** Clips one rank reads of an epoch of `n` clips: ceil(n / W) when padded, else ⌈(n − r) / W⌉. */
export function shardLength(n: number, shard: Shard | undefined, pad: boolean): number {
  if (!shard || shard.world <= 1) return n;
  if (pad) return Math.ceil(n / shard.world);
  return Math.max(0, Math.ceil((n - shard.rank) / shard.world));
}

export function checkShard(shard: Shard): void {
  const { rank, world } = shard;
  if (!Number.isInteger(world) || world < 1)
    throw new Error(`world size must be a positive integer, got ${world}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= world)
    throw new Error(`rank must be in 0..${world - 1}, got ${rank}`);
}

/** This rank's part of an epoch order (the whole order for a single process). */
export function shardOrder(
  order: ArrayLike<number>,
  shard: Shard | undefined,
  pad: boolean,
): ShardedOrder {
  const n = order.length;
  if (!shard || shard.world <= 1)
    return {
      indices: Int32Array.from(order),
      positions: Int32Array.from({ length: n }, (_, i) => i),
    };
  checkShard(shard);
  const len = shardLength(n, shard, pad);
  const indices = new Int32Array(len);
  const positions = new Int32Array(len);
  for (let j = 0; j < len; j++) {
    const p = shard.rank + j * shard.world;
    // padding repeats the start of the order (n > 0 whenever len > 0)
    indices[j] = order[p % n];
    positions[j] = p;
  }
  return { indices, positions };
}
