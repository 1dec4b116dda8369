// When a stored tensor fits a module's tensor (loadStateDict, and the model-file check that runs
// before any network exists): same shape once size-1 dims are dropped, float into float and
// integer into integer. No imports: the browser build uses it too.

export const isFloatDType = (d: string): boolean =>
  d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';

/** Equal shapes once size-1 dims are dropped (a Linear weight loads into a 1×1 conv and back). */
export function sameShapeIgnoringOnes(a: readonly number[], b: readonly number[]): boolean {
  const x = a.filter((d) => d !== 1),
    y = b.filter((d) => d !== 1);
  return x.length === y.length && x.every((d, i) => d === y[i]);
}
