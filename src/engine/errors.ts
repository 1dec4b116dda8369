// Typed errors of the tensor engine. Everything thrown by the engine is an EngineError;
// failures inside libtorch are TorchErrors carrying libtorch's own message.
export class EngineError extends Error {
  override name = 'EngineError';
}
/** A tensor was used after dispose() (or after its tidy scope ended). */
export class DisposedError extends EngineError {
  override name = 'DisposedError';
}
/** Bad device string, or a CUDA device requested where CUDA is absent. */
export class DeviceError extends EngineError {
  override name = 'DeviceError';
}
/** Raised by libtorch (c10::Error); `message` is libtorch's message without the C++ backtrace. */
export class TorchError extends EngineError {
  override name = 'TorchError';
}
/** Incompatible shapes (checked in TypeScript or reported by libtorch). */
export class ShapeError extends TorchError {
  override name = 'ShapeError';
}
/** Unsupported or mismatched dtype. */
export class DTypeError extends TorchError {
  override name = 'DTypeError';
}
/** Index out of range. */
export class IndexError extends TorchError {
  override name = 'IndexError';
}
/** libtorch could not allocate memory (host or device). */
export class OutOfMemoryError extends TorchError {
  override name = 'OutOfMemoryError';
}
/** Bad argument passed across the native boundary (wrong JS type, missing argument). */
export class ArgumentError extends EngineError {
  override name = 'ArgumentError';
}

const SHAPE =
  /size of tensor|must match the size|shapes cannot be multiplied|Sizes of tensors must match|shape '\[.*\]' is invalid|expected .*to have .* channels|Expected .*dimension|Expected .*D .*input|number of dims|dimension out of range|same number of dimensions|invalid for input of size|mat1 and mat2|expand|Trying to create tensor with negative dimension|input.size|Given groups=|Kernel size can't be greater|Output size is too small|normalized_shape|running_mean should contain|must be broadcastable|not broadcastable|size mismatch|mismatch in shape|match the existing size/i;
const DTYPE =
  /scalar type|dtype|not implemented for '|expected both vectors to have same|Found dtype|result type .* can't be cast|must be a floating|only Tensors of floating point|Expected object of scalar type|can't be cast|Long but found Float|Float but found|expected m1 and m2 to have the same dtype|is not supported for/i;

/** Maps the addon's error kinds (and libtorch's message) to a typed error. */
/** libtorch's message as one line of at most 400 characters: its first line (and the next,
 *  where the first only introduces it with ':'). Some messages run for thousands of lines —
 *  a tensor's every value, the dispatcher's list of backends. */
export function oneLine(message: string): string {
  const lines = message
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  let line = lines[0] ?? '';
  if (line.endsWith(':') && lines[1]) line += ' ' + lines[1];
  return line.length > 400 ? line.slice(0, 399) + '…' : line;
}

export function makeNativeError(kind: string, message: string): Error {
  const msg = oneLine(message);
  switch (kind) {
    case 'arg':
      return /not live/.test(msg) ? new DisposedError(msg) : new ArgumentError(msg);
    case 'index':
      return new IndexError(msg);
    case 'type':
      return new DTypeError(msg);
    case 'oom':
      return new OutOfMemoryError(msg);
    default:
      if (/can't allocate memory|out of memory|not enough memory/i.test(msg))
        return new OutOfMemoryError(msg);
      if (/out of range|out of bounds|out of DATA bounds|index .* is out of/i.test(msg))
        return new IndexError(msg);
      if (SHAPE.test(msg)) return new ShapeError(msg);
      if (DTYPE.test(msg)) return new DTypeError(msg);
      if (
        /CUDA|cuda/.test(msg) &&
        /not available|no CUDA|compiled without|Torch not compiled/i.test(msg)
      )
        return new DeviceError(msg);
      return new TorchError(msg);
  }
}
