// The CPU's instruction-set flags (Linux /proc/cpuinfo) that decide eflip's numeric choices:
// native bfloat16 for train.precision=auto, VNNI for int8 weights (src/io/onnx/quantize.ts).
// Node only; where there is no /proc/cpuinfo nothing is known (null).
import { readFileSync } from 'node:fs';

let flags: Set<string> | undefined;
/** The flags line of /proc/cpuinfo (empty where there is none: not Linux). Read once. */
function cpuFlags(): Set<string> {
  if (!flags) {
    flags = new Set<string>();
    try {
      const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
      flags = new Set(line.trim().split(/\s+/));
    } catch {
      /* not Linux: no flags known */
    }
  }
  return flags;
}

/**
 * The CPU instruction set that computes bfloat16 natively ('amx_bf16' or 'avx512_bf16'), or
 * null: no such flag, or no /proc/cpuinfo. Without one, bf16 autocast converts in software and
 * is slower than float32.
 */
export function cpuNativeBf16(): string | null {
  return ['amx_bf16', 'avx512_bf16'].find((f) => cpuFlags().has(f)) ?? null;
}

/**
 * For int8 inference on x86: the VNNI instructions ('amx_int8', 'avx512_vnni', 'avx_vnni') that
 * add u8×s8 products in 32 bits; 'none' on an x86 CPU without them, where onnxruntime adds pairs
 * of products in a saturating int16 (why int8 exports default to 7-bit weights:
 * src/io/onnx/quantize.ts); null where unknown (no /proc/cpuinfo flags, or not x86).
 */
export function cpuInt8Dot(): string | null {
  const f = cpuFlags();
  if (!f.has('sse2')) return null;
  return ['amx_int8', 'avx512_vnni', 'avx_vnni'].find((x) => f.has(x)) ?? 'none';
}
