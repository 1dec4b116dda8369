// `eflip import` — a PyTorch checkpoint (.ckpt/.pt/.pth from torch.save; reference Lightning
// checkpoints or bare state dicts) to an eflip model file. The pickle is read by a restricted
// unpickler that never executes anything; the weights are loaded into the network (shape
// checks) and written with config, labels and preprocessing in the metadata.
// A reference (Lightning) checkpoint gets, by default, what reproduces the reference's batch-1
// answers (issue #14): attention 'self', the reference's preprocessing, labels from its
// hyper-parameters, its EMA weights. Every default is printed and has a flag.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { guardOutputs } from '../../io/output_path.js';
import { VARIANTS, modelConfig, type ModelConfigInput } from '../../model/config.js';
import { inferModelConfig } from '../../model/infer_config.js';
import { resolveLabels } from '../../model/labels.js';
import { checkFiniteWeights, checkLabels, selectWeights } from '../../model/model_metadata.js';
import { printable } from '../../io/printable.js';
import {
  readTorchCheckpoint,
  extractStateDict,
  checkLoad,
  type TorchTensorRef,
} from '../../io/torch_checkpoint.js';
import { stateShapes } from '../../model/state_shapes.js';
import {
  emaStateDict,
  labelsFromHparams,
  lightningHparams,
} from '../../io/lightning_checkpoint.js';
import { LRW_WORDS_SEED42 } from '../../model/lrw_words.js';
import { ATTENTION_REGIMES, type AttentionRegime } from '../../model/config.js';
import {
  checkPreprocessing,
  DEFAULT_PREPROCESSING,
  REFERENCE_PREPROCESSING,
  type Preprocessing,
} from '../../io/onnx/preprocessing.js';
import { numel, type RawTensor } from '../../io/safetensors.js';

export const def = defineCommand({
  name: 'import',
  usage:
    'import <checkpoint.ckpt|.pt|.pth> --out FILE.safetensors [--labels seed42|lrw|FILE] [--attention self|time] [--preprocess reference|eflip|FILE.json] [--weights ema|raw] [--variant T|S|B]',
  description:
    'Convert a PyTorch checkpoint to an eflip model file. Nothing in the checkpoint is executed. ' +
    'The variant and sizes are inferred from the weights unless given. A reference (Lightning) checkpoint ' +
    "gets what reproduces the reference's batch-1 answers: attention self, the reference preprocessing, " +
    'labels from its hyper-parameters and its EMA weights; each default is printed and can be overridden.',
  options: {
    out: { type: 'string', alias: 'o', help: 'output file (.safetensors)' },
    labels: {
      type: 'string',
      help: "class names: seed42 (the reference's order, first N), lrw (sorted), or a file (default: a Lightning checkpoint's hyper-parameters words_list / words; other checkpoints lrw)",
    },
    attention: {
      type: 'string',
      help: 'self (each frame attends only to itself: the reference at batch 1) or time (default: self for Lightning checkpoints, else time)',
    },
    preprocess: {
      type: 'string',
      help: 'reference (centre 88 crop, 0.4161/0.1688, torchvision grey), eflip (mouth crop, 0.421/0.165) or a JSON file {crop,size,mean,std,grey} (default: reference for Lightning checkpoints, else eflip)',
    },
    weights: {
      type: 'string',
      help: "ema (the EMA callback's weights, when the checkpoint has them) or raw (state_dict); default ema",
    },
    variant: { type: 'string', help: `named variant (${VARIANTS.join(', ')}); default: inferred` },
    config: { type: 'string', help: 'JSON model config file (for custom variants)' },
    prefix: {
      type: 'string',
      help: 'key prefix to strip (default: model. or module. when every key has it)',
    },
    'frontend-maxpool': {
      type: 'boolean',
      help: 'the checkpoint was trained with the front-end max-pool (not visible in the weights)',
    },
    'non-strict': { type: 'boolean', help: 'allow missing keys (left at their initial values)' },
  },
  examples: [
    'eflip import lrw_T.ckpt --out lrw_T.safetensors            # reference: EMA, attention self, its preprocessing and labels',
    'eflip import lrw_T.ckpt --out t.safetensors --attention time --preprocess eflip   # a start for fine-tuning',
    'eflip import state_dict.pt --out m.safetensors --variant B --labels words.txt',
  ],
});

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  if (p.positionals.length !== 1) throw new UsageError('give exactly one checkpoint file');
  if (!p.opts.out) throw new UsageError('--out FILE.safetensors is required');
  const src = p.positionals[0];
  if (!existsSync(src)) throw new UsageError(`no such file: ${src}`);
  guardOutputs(
    [{ flag: '--out', path: p.opts.out }],
    [
      { flag: 'CHECKPOINT', path: src },
      ...(['config', 'labels', 'preprocess'] as const)
        .filter((k) => p.opts[k])
        .map((k) => ({ flag: `--${k}`, path: p.opts[k]! })),
    ],
  );

  const attention = p.opts.attention;
  if (attention !== undefined && !ATTENTION_REGIMES.includes(attention as AttentionRegime))
    throw new UsageError(
      `--attention must be ${ATTENTION_REGIMES.join(' or ')}, got '${attention}'`,
    );
  const weightSet = p.opts.weights ?? 'ema';
  if (weightSet !== 'ema' && weightSet !== 'raw')
    throw new UsageError(`--weights must be ema or raw, got '${weightSet}'`);

  // --config and --preprocess are read before the checkpoint (a bad file fails at once)
  const configFile = p.opts.config;
  const configJson = configFile === undefined ? undefined : readJsonArg('--config', configFile);
  if (
    configJson !== undefined &&
    (configJson === null || typeof configJson !== 'object' || Array.isArray(configJson))
  )
    throw new UsageError(
      `--config ${configFile}: must be a JSON object of model config keys, got ${Array.isArray(configJson) ? 'an array' : String(JSON.stringify(configJson)).slice(0, 40)}`,
    );

  const ck = readTorchCheckpoint(src);
  const sd = extractStateDict(ck.root, p.opts.prefix !== undefined ? [p.opts.prefix] : undefined);
  console.log(
    `${basename(src)}: state dict at '${sd.foundAt}', ${sd.tensors.size} tensors` +
      (sd.strippedPrefix ? `, prefix '${printable(sd.strippedPrefix, 120)}' stripped` : '') +
      (Object.keys(sd.info).length
        ? ` (${Object.entries(sd.info)
            .map(([k, v]) => `${printable(k, 120)} ${printable(String(v), 40)}`)
            .join(', ')})`
        : ''),
  );
  if (sd.skipped.length)
    console.log(
      `  skipped ${sd.skipped.length} non-tensor entries: ${sd.skipped
        .slice(0, 5)
        .map((k) => printable(k, 120))
        .join(', ')}`,
    );
  const lightning = sd.foundAt === 'state_dict' && sd.strippedPrefix === 'model.';
  const why = lightning ? 'default for a reference (Lightning) checkpoint' : 'default';
  const said = (flag: keyof typeof p.opts) => (p.opts[flag] !== undefined ? `--${flag}` : why);

  // the weight set: the EMA callback's weights (the reference validates with them) or state_dict,
  // decided by the one weight selector (model_metadata.selectWeights) over 'ema.' / 'model.' names
  const ema = emaStateDict(ck.root);
  const sets = new Map<string, TorchTensorRef>();
  for (const [k, t] of sd.tensors) sets.set(`model.${k}`, t);
  let emaCount = 0,
    filled = 0;
  if (ema) {
    const e = extractStateDict(ema.dict, p.opts.prefix !== undefined ? [p.opts.prefix] : undefined);
    emaCount = e.tensors.size;
    for (const [k, t] of e.tensors) sets.set(`ema.${k}`, t);
    // what the callback does not keep (e.g. BatchNorm counters) comes from state_dict
    for (const [k, t] of sd.tensors)
      if (!e.tensors.has(k)) {
        sets.set(`ema.${k}`, t);
        filled++;
      }
  }
  const { tensors: chosen, prefix: chosenPrefix } = selectWeights(sets, {
    ema: weightSet === 'ema',
  });
  const usedEma = chosenPrefix === 'ema.';
  if (usedEma) {
    console.log(
      `  weights: ema (${emaCount} tensors at ${ema!.foundAt}${filled ? `; ${filled} not kept by EMA, e.g. BatchNorm counters, from state_dict` : ''}) [${p.opts.weights !== undefined ? '--weights' : 'default'}; --weights raw for state_dict]`,
    );
  } else if (weightSet === 'ema') {
    console.log(`  weights: raw (state_dict; the checkpoint carries no EMA weights)`);
  } else {
    console.log(
      `  weights: raw (state_dict) [--weights]${ema ? `; EMA weights at ${ema.foundAt} not used` : ''}`,
    );
  }

  const overrides: ModelConfigInput = configJson ? { ...(configJson as ModelConfigInput) } : {};
  if (p.opts.variant) overrides.variant = p.opts.variant;
  if (p.opts['frontend-maxpool']) overrides.frontendMaxPool = true;
  const attentionFrom =
    attention !== undefined ? '--attention' : overrides.attention !== undefined ? '--config' : why;
  overrides.attention = (attention ??
    overrides.attention ??
    (lightning ? 'self' : 'time')) as AttentionRegime;
  const shapes = new Map([...chosen].map(([k, t]) => [k, { shape: t.shape }]));
  const cfg = p.opts.config ? modelConfig(overrides) : inferModelConfig(shapes, overrides);
  console.log(
    `  attention: ${cfg.attention}${cfg.attention === 'self' ? ' (each frame attends only to itself, as the reference computes at batch 1)' : ' (over the frames of the clip)'} [${attentionFrom}; --attention ${cfg.attention === 'self' ? 'time' : 'self'} for the other]`,
  );

  const preprocessing = choosePreprocessing(
    p.opts.preprocess ?? (lightning ? 'reference' : 'eflip'),
  );
  console.log(
    `  preprocess: crop ${preprocessing.crop} ${preprocessing.size}, mean ${preprocessing.mean} std ${preprocessing.std}, grey ${preprocessing.grey} [${said('preprocess')}; --preprocess reference|eflip|FILE.json]`,
  );

  let labels: string[];
  let labelSpec: string;
  let labelProblem: string | undefined;
  if (p.opts.labels !== undefined) {
    labels = resolveLabels(p.opts.labels, cfg.classes);
    labelSpec = `${p.opts.labels} [--labels]`;
  } else if (lightning) {
    const hp = lightningHparams(ck.root);
    const fix = 'give the class names with --labels seed42|lrw|FILE';
    const got =
      hp === undefined
        ? { how: 'none', problem: 'the checkpoint has no hyper-parameters naming its words' }
        : labelsFromHparams(hp, cfg.classes, LRW_WORDS_SEED42);
    // refused after the weights are checked, so a checkpoint that does not fit says that first
    labels = [];
    if (got.labels) {
      try {
        labels = checkLabels(got.labels, cfg.classes, 'hyper-parameter words_list');
      } catch (e) {
        labelProblem = `${src}: ${(e as Error).message}; ${fix}`;
      }
    } else labelProblem = `${src}: ${got.problem}; ${fix}`;
    labelSpec = `${got.how} [${why}; --labels to override]`;
  } else {
    labels = resolveLabels('lrw', cfg.classes);
    labelSpec = `lrw (sorted) [default; --labels seed42|FILE to override]`;
  }
  if (!labelProblem) console.log(`  labels: ${labelSpec}`);

  // the weights that will load (the model's names, sizes that fit) may not inflate or repeat the
  // file's bytes past its bounds: refused before a network of the size their shapes ask for is built
  const fits = new Map([...stateShapes(cfg)].map((e) => [e.name, numel(e.shape)]));
  checkLoad(
    [...chosen].filter(([k, t]) => fits.get(k) === numel(t.shape)).map(([, t]) => t),
    'the weights to load',
  );
  // libtorch is loaded only for a checkpoint that was read: a refused file costs a fraction of a second
  const { createModel, saveModel } = await import('../../model/weights.js');
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of chosen) tensors.set(k, t.lazy()); // read only when loaded: unused or misfit tensors never are
  const model = createModel(cfg);
  try {
    const own = new Set(model.stateDict().keys());
    const unexpected = [...tensors.keys()].filter((k) => !own.has(k));
    for (const k of unexpected) tensors.delete(k);
    const report = model.loadStateDict(tensors, { strict: !p.opts['non-strict'] });
    if (unexpected.length)
      console.log(
        `  ignored ${unexpected.length} unexpected keys: ${unexpected
          .slice(0, 8)
          .map((k) => printable(k, 120))
          .join(', ')}${unexpected.length > 8 ? ', …' : ''}`,
      );
    if (report.missing.length)
      console.log(
        `  WARNING ${report.missing.length} missing keys kept their initial values: ${report.missing.slice(0, 8).join(', ')}`,
      );
    if (report.reshaped.length)
      console.log(
        `  reshaped ${report.reshaped.length} tensors (size-1 dims): ${report.reshaped.slice(0, 4).join(', ')}`,
      );
    if (labelProblem) throw new Error(labelProblem);
    // what a loader would refuse is not written: NaN/Inf, or float64 beyond float32 (now ±Inf)
    const state = new Map<string, { dtype: string; data: Uint8Array }>();
    for (const [k, t] of model.stateDict()) state.set(k, { dtype: t.dtype, data: t.bytes() });
    checkFiniteWeights(state, basename(src));
    saveModel(p.opts.out, model, {
      labels,
      metadata: {
        created_by: 'eflip import',
        source: basename(src),
        ...(sd.info.epoch ? { source_epoch: printable(String(sd.info.epoch), 40) } : {}),
        preprocessing: JSON.stringify(preprocessing),
        source_weights: usedEma ? 'ema' : 'raw',
      },
    });
  } finally {
    model.dispose();
  }
  console.log(
    `wrote ${p.opts.out}: variant ${cfg.variant}, ${cfg.classes} classes, attention ${cfg.attention}, labels ${labels.slice(0, 3).join(', ')}, …`,
  );
  return 0;
}

/** The JSON value of a small file named by a flag; one-line UsageErrors naming both. */
function readJsonArg(flag: string, file: string): unknown {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new UsageError(`${flag} ${file}: no such file`);
  }
  if (!st.isFile()) throw new UsageError(`${flag} ${file}: not a regular file`);
  if (st.size > MAX_JSON_BYTES)
    throw new UsageError(`${flag} ${file}: ${st.size} bytes; a JSON config is at most 1 MiB`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${flag} ${file}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
}
const MAX_JSON_BYTES = 1 << 20;

/** --preprocess: 'reference', 'eflip' or a JSON file, validated as a model file's preprocessing. */
function choosePreprocessing(spec: string): Preprocessing {
  if (spec === 'reference') return { ...REFERENCE_PREPROCESSING };
  if (spec === 'eflip' || spec === 'default') return { ...DEFAULT_PREPROCESSING };
  if (!existsSync(spec))
    throw new UsageError(`--preprocess must be reference, eflip or a JSON file, got '${spec}'`);
  return checkPreprocessing(readJsonArg('--preprocess', spec), `--preprocess ${spec}`);
}
