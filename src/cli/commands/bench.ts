// `eflip bench <kind>`: benchmarks reported as ratios against PyTorch measured in the same run.
// Each kind lives in src/cli/bench/<kind>.ts.
import { helpText, UsageError, BENCH_OPTIONS, defineCommand } from '../args.js';

const KINDS: Record<
  string,
  { summary: string; load: () => Promise<{ default: (argv: string[]) => Promise<number> }> }
> = {
  ops: {
    summary: 'per-op overhead and conv/matmul throughput vs python3-torch',
    load: () => import('../bench/ops.js'),
  },
  data: {
    summary: 'decode, prepare and augmenting-loader clips/s, peak RSS',
    load: () => import('../bench/data.js'),
  },
  train: {
    summary: 'training clips/s and peak RSS vs a PyTorch step (fp32, bf16; fp16 on CUDA)',
    load: () => import('../bench/train.js'),
  },
  infer: {
    summary: 'ms/clip for libtorch, onnxruntime and PyTorch eager; streaming cost',
    load: () => import('../bench/infer.js'),
  },
  profile: {
    summary: "where a model's inference time goes: onnxruntime's profile by op and layer",
    load: () => import('../bench/profile.js'),
  },
  roi: {
    summary: 'frames/s of the face/mouth-ROI pipeline',
    load: () => import('../bench/roi.js'),
  },
  webapp: {
    summary: "the web app's webcam path in headless Chromium: frames/s, ms per frame",
    load: () => import('../bench/webapp.js'),
  },
};

/** Every kind, in the order of `eflip bench --help` (the README's reference prints each one's help). */
export const BENCH_KINDS = Object.keys(KINDS);
const KIND_WIDTH = Math.max(...BENCH_KINDS.map((k) => k.length));

export const def = defineCommand({
  name: 'bench',
  usage: 'bench <ops|data|train|infer|profile|roi|webapp> [--json] [options]',
  description: [
    'Benchmarks. Speed is reported next to PyTorch (python3-torch) measured in the same run, as ratios:',
    ...Object.entries(KINDS).map(([k, v]) => `  ${k.padEnd(KIND_WIDTH)} ${v.summary}`),
    'Run `eflip bench <kind> --help` for the options of each.',
  ].join('\n'),
  options: { ...BENCH_OPTIONS },
});

export default async function main(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (!kind || kind === '--help' || kind === '-h') {
    console.log(helpText(def));
    return kind ? 0 : 2;
  }
  const k = KINDS[kind];
  if (!k)
    throw new UsageError(`unknown benchmark '${kind}' (one of ${Object.keys(KINDS).join(', ')})`);
  return (await k.load()).default(rest);
}
