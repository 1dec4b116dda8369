// eflip's own environment switches (EFLIP_ORT_SPIN, EFLIP_ORT_LANES, EFLIP_ROI_THREAD,
// EFLIP_ROI_BACKEND, EFLIP_LINEAR_AS_CONV): one reader, so that a value eflip does not know is
// refused in one line naming the variable instead of being silently taken as "unset".

export class EnvSwitchError extends Error {
  override name = 'EnvSwitchError';
}

/** The value of `name` when it is one of `values`; undefined when unset or empty; anything
 *  else throws EnvSwitchError ("EFLIP_ORT_LANES="yes": expected 0 or 1 (or unset)"). */
export function envSwitch<T extends string>(name: string, values: readonly T[]): T | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if ((values as readonly string[]).includes(v)) return v as T;
  throw new EnvSwitchError(
    `${name}=${JSON.stringify(v).slice(0, 40)}: expected ${values.join(' or ')} (or unset)`,
  );
}
