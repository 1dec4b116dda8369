// Typed failures of the ROI pipeline; `kind` says why, `file` names the video.
import { printable } from '../io/printable.js';

export type RoiErrorKind = 'empty-video' | 'no-face' | 'edge' | 'bad-args' | 'bad-landmarks';

export class RoiError extends Error {
  override name = 'RoiError';
  constructor(
    readonly kind: RoiErrorKind,
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${printable(file)}: ${message}` : message);
  }
}
