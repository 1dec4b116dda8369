// What a file is, by its first bytes (never by its name): so a loader given the wrong file says
// what it got — a PyTorch checkpoint to convert, a video, a text file — instead of failing deep
// inside a parser. No Node imports.

export type FileKind =
  | 'empty'
  | 'safetensors'
  | 'onnx'
  | 'pytorch-zip'
  | 'pytorch-pickle'
  | 'zip'
  | 'gzip'
  | 'video'
  | 'image'
  | 'text'
  | 'unknown';

export interface FileKindInfo {
  kind: FileKind;
  /** for messages: "a PyTorch checkpoint (zip)", "an MP4/MOV video", ... */
  what: string;
}

/** Bytes to read for sniffFileKind. */
export const SNIFF_BYTES = 512;

const ascii = (b: Uint8Array, at: number, s: string) =>
  s.split('').every((c, i) => b[at + i] === c.charCodeAt(0));

/** The kind of a file from its first bytes (`head`, up to SNIFF_BYTES) and its size. */
export function sniffFileKind(head: Uint8Array, size: number): FileKindInfo {
  if (size === 0) return { kind: 'empty', what: 'an empty file' };
  const b = head;
  // safetensors: u64 header length, then the JSON header's '{' (the length is checked by the parser)
  if (b.length >= 9 && b[8] === 0x7b) return { kind: 'safetensors', what: 'a safetensors file' };
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) {
    // torch.save's zip: the first entry is <archive>/data.pkl
    const nameLen = b.length >= 30 ? b[26] | (b[27] << 8) : 0;
    const name = new TextDecoder('latin1').decode(b.subarray(30, Math.min(b.length, 30 + nameLen)));
    if (/(^|\/)data\.pkl$/.test(name) || name.endsWith('.pkl'))
      return { kind: 'pytorch-zip', what: 'a PyTorch checkpoint (zip)' };
    return { kind: 'zip', what: 'a zip archive' };
  }
  if (b.length >= 2 && b[0] === 0x80 && b[1] >= 2 && b[1] <= 5)
    return { kind: 'pytorch-pickle', what: 'a PyTorch checkpoint (legacy pickle)' };
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b)
    return { kind: 'gzip', what: 'a gzip archive' };
  const container = videoContainerOf(b);
  if (container === 'mp4') return { kind: 'video', what: 'an MP4/MOV video' };
  if (container === 'mkv') return { kind: 'video', what: 'a Matroska/WebM video' };
  if (b.length >= 12 && ascii(b, 0, 'RIFF'))
    return {
      kind: 'video',
      what: `a RIFF (${new TextDecoder('latin1').decode(b.subarray(8, 12)).trim()}) file`,
    };
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 'PNG'))
    return { kind: 'image', what: 'a PNG image' };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff)
    return { kind: 'image', what: 'a JPEG image' };
  // ONNX: a ModelProto starts with field 1 (ir_version, varint) = a small number
  if (b.length >= 2 && b[0] === 0x08 && b[1] >= 1 && b[1] <= 30)
    return { kind: 'onnx', what: 'an ONNX model' };
  if (isText(b)) return { kind: 'text', what: 'a text file' };
  return { kind: 'unknown', what: 'not a format eflip knows' };
}

/**
 * The video container a file starts like (leading signature only; ffmpeg then decodes it and a
 * broken file is refused by the frame reader), as a file extension, or null. `eflip serve` names
 * its temporary upload with it.
 */
export function videoContainerOf(
  b: Uint8Array,
): 'mp4' | 'mkv' | 'avi' | 'ogv' | 'flv' | 'ts' | 'mpg' | 'mov' | null {
  const at = (off: number, s: string) => b.length >= off + s.length && ascii(b, off, s);
  if (at(4, 'ftyp')) return 'mp4'; // MP4 / MOV / 3GP
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3)
    return 'mkv'; // Matroska / WebM
  if (at(0, 'RIFF') && at(8, 'AVI ')) return 'avi';
  if (at(0, 'OggS')) return 'ogv';
  if (at(0, 'FLV')) return 'flv';
  if (b.length >= 189 && b[0] === 0x47 && b[188] === 0x47) return 'ts'; // MPEG-TS sync bytes
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1 && (b[3] === 0xba || b[3] === 0xb3))
    return 'mpg';
  if (at(4, 'moov') || at(4, 'mdat') || at(4, 'free') || at(4, 'wide')) return 'mov';
  return null;
}

function isText(b: Uint8Array): boolean {
  for (const c of b)
    if (c === 0 || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return false;
  try {
    // a multi-byte character may be cut at the end of the sample
    new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, Math.max(0, b.length - 3)));
    return true;
  } catch {
    return false;
  }
}
