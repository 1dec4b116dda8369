// The one file of a multipart/form-data upload (RFC 7578), for `POST /api/predict` from an HTML
// form or `curl -F video=@clip.mp4`. Works on the body already read (bounded by the upload
// limit): one pass of Buffer.indexOf, part headers capped, no copy of the file bytes. Exactly
// one part, and it must be a file; anything else is refused with a one-line reason.

/** A refused multipart body: `message` is one line naming the problem. */
export class MultipartError extends Error {
  override readonly name = 'MultipartError';
}

/** Most bytes of one part's header block (RFC 7578 parts carry two or three short headers). */
export const MAX_PART_HEADERS = 8 * 1024;

/** The boundary of a `multipart/form-data` Content-Type, null when the type is not multipart,
 *  a MultipartError when it is multipart without a usable boundary. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return null;
  if (!/^\s*multipart\/form-data\s*(;|$)/i.test(contentType))
    throw new MultipartError(
      `Content-Type ${contentType.split(';')[0].trim().slice(0, 60)} is not accepted; send multipart/form-data or the video itself`,
    );
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]*))/i.exec(contentType);
  const b = m ? (m[1] ?? m[2]) : '';
  // RFC 2046: 1..70 characters from a restricted set, not ending in a space
  if (!b || b.length > 70 || !/^[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]$/.test(b))
    throw new MultipartError(
      b
        ? `multipart boundary is not valid (RFC 2046: 1 to 70 plain characters)`
        : 'multipart/form-data without a boundary parameter in Content-Type',
    );
  return b;
}

export interface MultipartFile {
  /** the form field name */
  field: string;
  /** the file name the client gave (may be empty); undefined: a text field, not a file */
  filename?: string;
  /** the part's Content-Type, if any */
  type?: string;
  /** the file's bytes (a view into the body) */
  data: Buffer;
}

/** The single file part of a multipart/form-data body. */
export function multipartFile(body: Buffer, boundary: string): MultipartFile {
  const delim = Buffer.from(`--${boundary}`);
  // the first delimiter: at the start, or after a preamble line
  let at = body.subarray(0, delim.length).equals(delim) ? 0 : body.indexOf(`\r\n--${boundary}`);
  if (at < 0)
    throw new MultipartError(
      'multipart body has no part (the boundary of Content-Type never occurs)',
    );
  if (at > 0) at += 2;
  const next = Buffer.from(`\r\n--${boundary}`);
  const parts: MultipartFile[] = [];
  let pos = at + delim.length;
  for (;;) {
    // after a delimiter: "--" closes the body, else optional whitespace then CRLF opens a part
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a)
      throw new MultipartError(
        pos >= body.length
          ? 'multipart body is truncated (it ends after a boundary)'
          : 'multipart body is malformed (a boundary line is not followed by CRLF)',
      );
    pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const blank = body[pos] === 0x0d && body[pos + 1] === 0x0a; // a part with no headers
    const headLen = blank ? 0 : headEnd - pos;
    if (!blank && (headEnd < 0 || headLen > MAX_PART_HEADERS))
      throw new MultipartError(
        headEnd < 0 && body.length - pos <= MAX_PART_HEADERS
          ? 'multipart body is truncated (a part ends inside its headers)'
          : `multipart part headers are over ${MAX_PART_HEADERS} bytes`,
      );
    const headers = body.subarray(pos, pos + headLen).toString('latin1');
    const start = pos + headLen + (blank ? 2 : 4);
    const end = body.indexOf(next, start);
    if (end < 0)
      throw new MultipartError(
        'multipart body is truncated (the closing boundary is missing): send the whole file',
      );
    parts.push(partOf(headers, body.subarray(start, end)));
    if (parts.length > 1)
      throw new MultipartError(
        'multipart body has more than one part: send only the video file (options go in the query string: ?top=5&face=1)',
      );
    pos = end + next.length;
  }
  if (!parts.length) throw new MultipartError('multipart body has no part');
  const f = parts[0];
  if (f.filename === undefined)
    throw new MultipartError(
      `multipart field '${f.field.slice(0, 40)}' is not a file: send the video as a file field (curl -F video=@clip.mp4)`,
    );
  return f;
}

function partOf(headers: string, data: Buffer): MultipartFile {
  let disposition: string | undefined;
  let type: string | undefined;
  for (const line of headers.split('\r\n')) {
    const c = line.indexOf(':');
    if (c <= 0) throw new MultipartError('multipart part has a malformed header line');
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') type = value;
  }
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition))
    throw new MultipartError('multipart part has no Content-Disposition: form-data header');
  const param = (k: string) => {
    const m = new RegExp(`;\\s*${k}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s;]*))`, 'i').exec(
      disposition,
    );
    return m ? (m[1] ?? m[2]) : undefined;
  };
  return {
    field: param('name') ?? '',
    filename: param('filename'),
    type,
    data,
  };
}
