// The command table of `eflip`: one entry per sub-command, each implemented in its own file
// under src/cli/commands/. Modules are loaded lazily so `eflip --help` stays instant and a
// command that needs libtorch does not load it for one that does not.
export interface CommandSpec {
  name: string;
  summary: string;
  /** Lazily loaded implementation: returns the exit code. */
  load: () => Promise<{ default: CommandMain }>;
}
export type CommandMain = (argv: string[]) => Promise<number>;

export const COMMANDS: CommandSpec[] = [
  {
    name: 'demo',
    summary: 'lipread the bundled sample clips with the bundled demo model',
    load: () => import('./commands/demo.js'),
  },
  {
    name: 'train',
    summary: 'train a model from a config (YAML + key=value overrides)',
    load: () => import('./commands/train.js'),
  },
  {
    name: 'eval',
    summary: 'evaluate a checkpoint on a data split (top-1/top-5, F1, confusions)',
    load: () => import('./commands/eval.js'),
  },
  {
    name: 'predict',
    summary: 'top-k words for video files',
    load: () => import('./commands/predict.js'),
  },
  {
    name: 'serve',
    summary: 'the web app (lipreading in the browser) and an HTTP API',
    load: () => import('./commands/serve.js'),
  },
  {
    name: 'stream',
    summary: 'word timeline over a long video, frame by frame',
    load: () => import('./commands/stream.js'),
  },
  {
    name: 'export',
    summary: 'export a checkpoint to ONNX',
    load: () => import('./commands/export.js'),
  },
  {
    name: 'info',
    summary: 'parameters and multiply-accumulates of a variant',
    load: () => import('./commands/info.js'),
  },
  {
    name: 'init',
    summary: 'write a freshly initialised model (safetensors)',
    load: () => import('./commands/init.js'),
  },
  {
    name: 'import',
    summary: 'convert a PyTorch checkpoint (.ckpt/.pt/.pth) to safetensors',
    load: () => import('./commands/import.js'),
  },
  {
    name: 'prepare',
    summary: 'decode an LRW tree once into compact shards',
    load: () => import('./commands/prepare.js'),
  },
  {
    name: 'synth',
    summary: 'write a synthetic LRW-format corpus of talking-face clips',
    load: () => import('./commands/synth.js'),
  },
  {
    name: 'montage',
    summary: 'a PNG montage of mouth crops from a corpus',
    load: () => import('./commands/montage.js'),
  },
  {
    name: 'roi',
    summary: 'face landmarks and a 96x96 mouth-ROI video from arbitrary footage',
    load: () => import('./commands/roi.js'),
  },
  {
    name: 'build-native',
    summary: 'build the libtorch addon (training, --runtime torch) after installing libtorch',
    load: () => import('./commands/build_native.js'),
  },
  {
    name: 'doctor',
    summary: 'report libtorch, CPU, CUDA and run a self-check',
    load: () => import('./commands/doctor.js'),
  },
  {
    name: 'bench',
    summary: 'benchmarks: ops | data | train | infer | roi | webapp (ratios vs PyTorch)',
    load: () => import('./commands/bench.js'),
  },
];
