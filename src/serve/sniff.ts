// Does an upload look like a video container? Checks the leading signature only (ffmpeg then
// decodes it; a truncated or broken file is refused by the frame reader). Returns a file
// extension for the temporary file, or null.
export function sniffVideo(b: Uint8Array): string | null {
  const ascii = (off: number, s: string) => b.length >= off + s.length && [...s].every((c, i) => b[off + i] === c.charCodeAt(0));
  if (ascii(4, 'ftyp')) return 'mp4'; // MP4 / MOV / 3GP
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'mkv'; // Matroska / WebM
  if (ascii(0, 'RIFF') && ascii(8, 'AVI ')) return 'avi';
  if (ascii(0, 'OggS')) return 'ogv';
  if (ascii(0, 'FLV')) return 'flv';
  if (b.length >= 189 && b[0] === 0x47 && b[188] === 0x47) return 'ts'; // MPEG-TS sync bytes
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1 && (b[3] === 0xba || b[3] === 0xb3)) return 'mpg';
  if (ascii(4, 'moov') || ascii(4, 'mdat') || ascii(4, 'free') || ascii(4, 'wide')) return 'mov';
  return null;
}
