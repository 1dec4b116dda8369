// `eflip demo` — lipread the bundled sample clips with the bundled demo model.
import { parseOrHelp, type CommandDef } from '../args.js';

export const def: CommandDef = {
  name: 'demo',
  usage: 'demo [--retrain]',
  description: 'Lipread the bundled sample clips (assets/samples) with the bundled demo model (assets/demo).',
  options: { retrain: { type: 'boolean', help: 'reproduce the demo model with `eflip train` on a synthetic corpus' } },
};

export default async function main(argv: string[]): Promise<number> {
  if (!parseOrHelp(def, argv)) return 0;
  console.log(
    [
      'eflip demo: the demo model is not bundled yet.',
      'When it is, this command will: load assets/demo/model.safetensors (a small EfficientNetV2+Transformer+TCN',
      'trained by `eflip train configs/synth.yaml` on a synthetic LRW-format corpus), decode each mp4 in',
      'assets/samples with ffmpeg, crop the 88x88 mouth window, and print the top-5 words with probabilities.',
    ].join('\n'),
  );
  return 0;
}
