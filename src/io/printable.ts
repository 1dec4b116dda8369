// Text from somewhere else as messages print it: a file name may hold any byte but '/' and NUL,
// so a clip named "bad\neflip prepare: all good.mp4" would print a second, made-up line (or move
// the cursor, clear the screen, reverse the text); a checkpoint's keys and epoch are a
// stranger's strings too. Every per-file message of the data commands, and `eflip import`'s
// report of a checkpoint, goes through printable(). No Node imports.

/** Control characters (C0, DEL, C1), line/paragraph separators and bidirectional overrides. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with its control characters escaped (\n, \r, \t, else \xNN or \u{NNNN}): one line,
 *  shown as written; text without them is returned unchanged. Longer than `max` characters
 *  (when given): clipped, with "…". */
export function printable(text: string, max?: number): string {
  const t = text.replace(UNPRINTABLE, (c) => {
    const code = c.codePointAt(0)!;
    return (
      NAMED[c] ??
      (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`)
    );
  });
  return max !== undefined && t.length > max ? `${t.slice(0, max)}…` : t;
}

/** A value from a file (a JSON landmark point, a frame) in a message: its JSON, at most 40
 *  characters (undefined and functions by their type). */
export function shownValue(v: unknown): string {
  return String(JSON.stringify(v) ?? typeof v).slice(0, 40);
}
