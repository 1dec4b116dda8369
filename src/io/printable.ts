// Text from a file someone else made (a checkpoint's keys and epoch, a file name), made safe to
// print on one terminal line: control characters (newlines, escape sequences) shown as \xNN
// escapes, and long text clipped.

/** `s` with control characters escaped, at most `max` characters (then "…"). */
export function printable(s: string, max = 120): string {
  const t = s.replace(
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
