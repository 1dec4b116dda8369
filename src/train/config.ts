// The training config: one typed schema with defaults (docs/design.md "Reference training recipe";
// the model section's defaults and rules are src/model/config.ts's, through ./model_config.ts),
// YAML files (with `extends:`), and `key=value` overrides with dotted keys. The reference
// implementation's flat Hydra names (efficientnet_size, use_ema, words, lr, ...) are accepted
// as aliases, in YAML and on the command line.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import {
  ConfigError,
  type Section,
  checkValue,
  closest,
  defaultsOf,
  isLeaf,
  leafPaths,
  lookup,
  parseText,
} from './config_schema.js';

import { MODEL_SCHEMA, modelConfigOfSection, type ModelSection } from './model_config.js';
import { threadCountProblem } from '../threads.js';
import { repeatedWordsProblem } from '../data/vocab.js';

export { ConfigError } from './config_schema.js';
export type { ModelSection } from './model_config.js';

/** The most frames per training clip (data.frames). */
export const MAX_CLIP_FRAMES = 250;

const MONITORS = ['val_loss', 'val_acc', 'val_top5', 'val_f1', 'train_loss', 'train_acc'];

/** Schema of every config key: type, default, help. */
export const SCHEMA: Section = {
  seed: { kind: 'int', default: 42, help: 'seed for init, data order, augmentation, dropout' },
  run_dir: {
    kind: 'string',
    default: null,
    nullable: true,
    help: 'run directory (default runs/<config>-<timestamp>; resuming: the run the checkpoint is in); never one that holds another run',
  },
  checkpoint: {
    kind: 'string',
    default: null,
    nullable: true,
    help: 'resume this run from a checkpoint file (or run dir: its last.ckpt)',
  },
  pretrained_model_path: {
    kind: 'string',
    default: null,
    nullable: true,
    help: 'fine-tune from these weights (safetensors / checkpoint); a class-count mismatch re-initialises the head',
  },
  model: MODEL_SCHEMA,
  data: {
    root: {
      kind: 'string',
      default: null,
      nullable: true,
      help: 'LRW-layout root (WORD/{train,val,test}/*.mp4), e.g. a synth corpus',
    },
    shards: {
      kind: 'string',
      default: null,
      nullable: true,
      help: 'prepared shard directory (eflip prepare); preferred over root',
    },
    words: { kind: 'int', default: null, nullable: true, min: 1, help: 'use N words (null: all)' },
    words_select: {
      kind: 'string',
      default: 'first',
      choices: ['first', 'random'],
      help: 'which N words: first N sorted, or a seeded random N',
    },
    words_list: {
      kind: 'strings',
      default: null,
      nullable: true,
      help: 'explicit word list (index = class id), or one word file: @FILE, a path with / or .txt, or an existing file (one word per line)',
    },
    crop: {
      kind: 'string',
      default: 'mouth',
      choices: ['mouth', 'center', 'landmarks'],
      help: 'crop of raw LRW frames',
    },
    frames: {
      kind: 'int',
      default: 29,
      min: 1,
      max: MAX_CLIP_FRAMES,
      maxWhy: `a clip holds one word — LRW's are 29 frames, 1.16 s at 25 fps; ${MAX_CLIP_FRAMES} are 10 s, and a batch holds every frame in memory several times over`,
      help: 'frames per clip',
    },
    size: { kind: 'int', default: 88, min: 8, help: 'input crop size (square)' },
    mean: {
      kind: 'number',
      default: 0.421,
      help: 'normalisation mean of [0,1] pixels (colour: the same on R, G and B)',
    },
    std: {
      kind: 'number',
      default: 0.165,
      min: 1e-6,
      help: 'normalisation std (colour: the same on R, G and B)',
    },
    workers: {
      kind: 'int',
      default: 2,
      min: 0,
      help: 'loader worker threads (decode jobs for data.root); at most 4 per core',
    },
    cache: {
      kind: 'boolean',
      default: true,
      help: 'cache decoded clips of data.root (in the eflip cache dir: $EFLIP_CACHE_DIR, $XDG_CACHE_HOME/eflip or ~/.cache/eflip; $EFLIP_CLIP_CACHE overrides)',
    },
    word_boundary: {
      kind: 'boolean',
      default: false,
      help: 'extra input channel marking the word (from Duration)',
    },
    shuffle_train_labels: {
      kind: 'int',
      default: null,
      nullable: true,
      help: 'control experiment: permute the training labels with this seed (a model must then stay at chance)',
    },
    augment: {
      random_crop: {
        kind: 'boolean',
        default: true,
        help: 'random size×size crop of the ROI (centre crop when off)',
      },
      hflip: { kind: 'number', default: 0.5, min: 0, max: 1, help: 'horizontal flip probability' },
      time_mask_s: {
        kind: 'number',
        default: 0.4,
        min: 0,
        help: 'longest time mask in seconds (0: off)',
      },
      temporal_crop: {
        kind: 'boolean',
        default: false,
        help: 'random temporal crop keeping the word',
      },
      mixup_alpha: { kind: 'number', default: 0, min: 0, help: 'mixup Beta(α, α) (0: off)' },
    },
  },
  optim: {
    lr: { kind: 'number', default: 1e-4, min: 0, help: 'peak learning rate' },
    betas: {
      kind: 'numbers',
      default: [0.9, 0.98],
      length: 2,
      min: 0,
      below: 1,
      help: 'AdamW betas (each in [0, 1))',
    },
    eps: { kind: 'number', default: 1e-8, min: 0, help: 'AdamW epsilon' },
    weight_decay: { kind: 'number', default: 5e-4, min: 0, help: 'decoupled weight decay' },
    no_decay_norm_bias: {
      kind: 'boolean',
      default: true,
      help: 'no weight decay on norms, biases and PReLU slopes',
    },
  },
  schedule: {
    warmup_epochs: { kind: 'number', default: 3, min: 0, help: 'linear warmup length in epochs' },
    min_lr: { kind: 'number', default: 0, min: 0, help: 'floor of the cosine phase' },
    warmup_start: {
      kind: 'number',
      default: 0,
      min: 0,
      max: 1,
      help: 'warmup starts at this fraction of lr',
    },
  },
  train: {
    batch_size: { kind: 'int', default: 16, min: 1, help: 'clips per step' },
    eval_batch_size: {
      kind: 'int',
      default: null,
      nullable: true,
      min: 1,
      help: 'clips per evaluation batch (null: batch_size)',
    },
    epochs: { kind: 'int', default: 40, min: 1, help: 'training epochs' },
    label_smoothing: {
      kind: 'number',
      default: 0,
      min: 0,
      max: 1,
      help: 'label smoothing of the NLL loss',
    },
    grad_clip: {
      kind: 'number',
      default: 0,
      min: 0,
      help: 'clip the global gradient norm (0: off)',
    },
    precision: {
      kind: 'string',
      default: 'auto',
      choices: ['auto', 'fp32', 'bf16', 'fp16'],
      help: 'auto: bf16 on a CPU with native bfloat16 (avx512_bf16 or amx_bf16; the learning check passes with it as with fp32), fp32 elsewhere (CUDA included), resolved at start and saved resolved; bf16: bfloat16 autocast (CPU or CUDA); fp16: float16 autocast with dynamic loss scaling (CUDA only)',
    },
    device: {
      kind: 'string',
      default: 'cpu',
      help: 'cpu or cuda[:N]; cuda needs the addon built against a CUDA libtorch (checked at start)',
    },
    channels_last: {
      kind: 'boolean',
      default: true,
      help: 'run the EfficientNetV2 trunk in channels-last (NHWC) memory layout (same results up to float rounding; on the CPU about 1.5x less time per training step, GPUs prefer it too); false: contiguous NCHW',
    },
    threads: {
      kind: 'int',
      default: null,
      nullable: true,
      min: 1,
      help: 'intra-op threads (null: all cores, or OMP_NUM_THREADS when set); at most 4 per core',
    },
    max_steps: {
      kind: 'int',
      default: null,
      nullable: true,
      min: 1,
      help: 'stop after this many optimizer steps',
    },
    limit_train_batches: {
      kind: 'int',
      default: null,
      nullable: true,
      min: 1,
      help: 'batches per training epoch (null: all)',
    },
    limit_val_batches: {
      kind: 'int',
      default: null,
      nullable: true,
      min: 1,
      help: 'batches per validation (null: all)',
    },
    log_every: {
      kind: 'int',
      default: 10,
      min: 1,
      help: 'write a metrics.jsonl step line every N steps',
    },
    val_every: { kind: 'int', default: 1, min: 1, help: 'validate every N epochs' },
    test_at_end: {
      kind: 'boolean',
      default: true,
      help: 'evaluate the best checkpoint on the test split at the end',
    },
    sync_bn: {
      kind: 'boolean',
      default: false,
      help: 'data-parallel: batch-norm statistics over the global batch (SyncBatchNorm)',
    },
    dist_timeout: {
      kind: 'number',
      default: 300,
      min: 1,
      help: 'data-parallel: seconds a collective or the rendezvous waits for the other ranks before the job stops',
    },
  },
  ema: {
    enabled: {
      kind: 'boolean',
      default: true,
      help: 'EMA of weights and buffers; validate/test with them',
    },
    decay: { kind: 'number', default: 0.999, min: 0, max: 1, help: 'EMA decay per step' },
  },
  early_stopping: {
    enabled: {
      kind: 'boolean',
      default: true,
      help: 'stop when the monitored metric stops improving',
    },
    monitor: { kind: 'string', default: 'val_loss', choices: MONITORS, help: 'metric' },
    mode: { kind: 'string', default: 'min', choices: ['min', 'max'], help: 'min or max' },
    min_delta: {
      kind: 'number',
      default: 0,
      min: 0,
      help: 'smallest change that counts as improvement',
    },
    patience: {
      kind: 'int',
      default: 5,
      min: 0,
      help: 'validations without improvement before stopping',
    },
  },
  checkpointing: {
    dir: {
      kind: 'string',
      default: null,
      nullable: true,
      help: 'checkpoint directory (null: <run_dir>/checkpoints)',
    },
    top_k: { kind: 'int', default: 3, min: 0, help: 'keep the best K checkpoints' },
    monitor: {
      kind: 'string',
      default: 'val_acc',
      choices: MONITORS,
      help: 'metric ranking checkpoints',
    },
    mode: { kind: 'string', default: 'max', choices: ['min', 'max'], help: 'min or max' },
    save_last: { kind: 'boolean', default: true, help: 'also keep last.ckpt (resume point)' },
  },
};

/** The reference implementation's flat names → our dotted keys. */
export const ALIASES: Record<string, string> = {
  efficientnet_size: 'model.variant',
  variant: 'model.variant',
  use_ema: 'ema.enabled',
  ema_decay: 'ema.decay',
  words: 'data.words',
  words_list: 'data.words_list',
  batch_size: 'train.batch_size',
  epochs: 'train.epochs',
  lr: 'optim.lr',
  dropout: 'model.dropout',
  weight_decay: 'optim.weight_decay',
  warmup_epochs: 'schedule.warmup_epochs',
  workers: 'data.workers',
  in_channels: 'model.in_channels',
  checkpoint_dir: 'checkpointing.dir',
  resume: 'checkpoint',
};

export interface TrainConfig {
  seed: number;
  run_dir: string | null;
  checkpoint: string | null;
  pretrained_model_path: string | null;
  model: ModelSection;
  data: {
    root: string | null;
    shards: string | null;
    words: number | null;
    words_select: 'first' | 'random';
    words_list: string[] | null;
    crop: 'mouth' | 'center' | 'landmarks';
    frames: number;
    size: number;
    mean: number;
    std: number;
    workers: number;
    cache: boolean;
    word_boundary: boolean;
    shuffle_train_labels: number | null;
    augment: {
      random_crop: boolean;
      hflip: number;
      time_mask_s: number;
      temporal_crop: boolean;
      mixup_alpha: number;
    };
  };
  optim: {
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    no_decay_norm_bias: boolean;
  };
  schedule: { warmup_epochs: number; min_lr: number; warmup_start: number };
  train: {
    batch_size: number;
    eval_batch_size: number | null;
    epochs: number;
    label_smoothing: number;
    grad_clip: number;
    precision: 'auto' | 'fp32' | 'bf16' | 'fp16';
    device: string;
    channels_last: boolean;
    threads: number | null;
    max_steps: number | null;
    limit_train_batches: number | null;
    limit_val_batches: number | null;
    log_every: number;
    val_every: number;
    test_at_end: boolean;
    sync_bn: boolean;
    dist_timeout: number;
  };
  ema: { enabled: boolean; decay: number };
  early_stopping: {
    enabled: boolean;
    monitor: string;
    mode: 'min' | 'max';
    min_delta: number;
    patience: number;
  };
  checkpointing: {
    dir: string | null;
    top_k: number;
    monitor: string;
    mode: 'min' | 'max';
    save_last: boolean;
  };
}

export function defaultConfig(): TrainConfig {
  return defaultsOf(SCHEMA) as TrainConfig;
}

/** The dotted key an alias stands for (own entries only: 'constructor' or '__proto__' are no alias). */
function aliasOf(key: string): string | undefined {
  return Object.hasOwn(ALIASES, key) ? ALIASES[key] : undefined;
}

/** Resolve an alias or dotted key to a schema leaf path, or throw naming the key. */
export function resolveKey(key: string): string {
  const path = aliasOf(key) ?? key;
  const node = lookup(SCHEMA, path);
  if (!node) {
    const all = [...leafPaths(SCHEMA), ...Object.keys(ALIASES)];
    const hint = closest(all, key);
    throw new ConfigError(`unknown config key '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
  }
  if (!isLeaf(node)) {
    throw new ConfigError(
      `config key '${key}' is a section; set one of its keys: ${leafPaths(node, path).slice(0, 6).join(', ')}, ...`,
    );
  }
  return path;
}

function setPath(cfg: Record<string, any>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = cfg;
  for (const p of parts.slice(0, -1)) o = o[p];
  o[parts[parts.length - 1]] = value;
}

export function getPath(cfg: unknown, path: string): unknown {
  let o: any = cfg;
  for (const p of path.split('.')) o = o?.[p];
  return o;
}

/** Merge a structured (YAML/JSON) object into cfg, checking every key and type. */
export function mergeObject(cfg: TrainConfig, obj: unknown, where = 'config'): void {
  if (obj === null || obj === undefined) return;
  if (typeof obj !== 'object' || Array.isArray(obj))
    throw new ConfigError(`${where}: expected a mapping at the top level`);
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (!prefix && k === 'extends') continue;
      const path = prefix ? key : (aliasOf(k) ?? k);
      const node = lookup(SCHEMA, path);
      if (!node) {
        const hint = closest([...leafPaths(SCHEMA), ...Object.keys(ALIASES)], key);
        throw new ConfigError(
          `${where}: unknown config key '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`,
        );
      }
      if (isLeaf(node)) {
        try {
          setPath(cfg as any, path, checkValue(key, node, v));
        } catch (e) {
          throw new ConfigError(`${where}: ${(e as Error).message}`);
        }
      } else {
        if (v === null || typeof v !== 'object' || Array.isArray(v))
          throw new ConfigError(
            `${where}: config key '${key}' is a section and needs a mapping, got ${JSON.stringify(v)}`,
          );
        walk(v as Record<string, unknown>, path);
      }
    }
  };
  walk(obj as Record<string, unknown>, '');
}

/** Apply one `key=value` override. */
export function applyOverride(cfg: TrainConfig, text: string): void {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(`override '${text}' is not key=value`);
  const key = text.slice(0, eq).trim();
  const path = resolveKey(key);
  const leaf = lookup(SCHEMA, path) as any;
  setPath(cfg as any, path, parseText(key, leaf, text.slice(eq + 1)));
}

/** Longest config file read (the shipped ones are ~2 KB). */
const MAX_CONFIG_BYTES = 1 << 20;

/** Read a YAML config file (following `extends:` chains relative to the file). */
export function readYaml(file: string, seen: string[] = []): unknown[] {
  const abs = resolve(file);
  if (seen.includes(abs))
    throw new ConfigError(`config ${file}: 'extends' cycle (${[...seen, abs].join(' -> ')})`);
  if (!existsSync(abs)) {
    // the configs that ship with eflip (repository or installed package): named in the error
    const bundled = fileURLToPath(new URL('../../../configs/', import.meta.url));
    const here =
      !seen.length && existsSync(join(bundled, basename(file)))
        ? ` (eflip's own is ${join(bundled, basename(file))})`
        : '';
    throw new ConfigError(`config file not found: ${file}${here}`);
  }
  const st = statSync(abs);
  if (!st.isFile()) throw new ConfigError(`config ${file} is not a file`);
  if (st.size > MAX_CONFIG_BYTES)
    throw new ConfigError(
      `config ${file} is ${st.size} bytes; a config is a short YAML file (at most ${MAX_CONFIG_BYTES} bytes)`,
    );
  const bytes = readFileSync(abs);
  if (bytes.includes(0)) throw new ConfigError(`config ${file} is a binary file, not YAML`);
  let doc: unknown;
  try {
    // aliases are expanded at most maxAliasCount times: a "billion laughs" file is refused, not expanded
    doc = YAML.parse(bytes.toString('utf8'), { maxAliasCount: 100, logLevel: 'error' });
  } catch (e) {
    throw new ConfigError(
      `config ${file}: YAML error: ${(e as Error).message.split('\n')[0].replace(/:$/, '')}`,
    );
  }
  const ext = (doc as any)?.extends;
  if (ext === undefined) return [{ file: abs, doc }];
  if (typeof ext !== 'string')
    throw new ConfigError(`config ${file}: 'extends' must be a file path`);
  const base = isAbsolute(ext) ? ext : resolve(dirname(abs), ext);
  return [...readYaml(base, [...seen, abs]), { file: abs, doc }];
}

/** Cross-field checks the per-key schema cannot express. */
export function validate(cfg: TrainConfig): void {
  const m = cfg.model;
  if (m.variant === 'custom' && !m.stages)
    throw new ConfigError(`config key 'model.stages' is required when model.variant is 'custom'`);
  // the schema's 1..3 lets 2 through; refused here, before a run writes anything
  if (m.in_channels === 2)
    throw new ConfigError(
      `config key 'model.in_channels' is 1 (grey) or 3 (colour RGB), got 2; for a word-boundary channel keep 1 (or 3) and set data.word_boundary=true`,
    );
  // stage rows, sizes and rates: src/model/config.ts's one validation (classes: a placeholder
  // until the data's word count is known)
  modelConfigOfSection(cfg);
  if (cfg.data.words_list) {
    if (!cfg.data.words_list.length)
      throw new ConfigError(
        `config key 'data.words_list' is an empty list; set null for every word`,
      );
    const repeated = repeatedWordsProblem(cfg.data.words_list, `config key 'data.words_list'`);
    if (repeated) throw new ConfigError(repeated);
  }
  if (cfg.data.words !== null && cfg.data.words_list !== null) {
    throw new ConfigError(
      `config keys 'data.words' and 'data.words_list' are exclusive; set one to null`,
    );
  }
  if (cfg.train.device !== 'cpu' && !/^cuda(:\d+)?$/.test(cfg.train.device)) {
    throw new ConfigError(
      `config key 'train.device' expects cpu or cuda[:N], got '${cfg.train.device}'`,
    );
  }
}

/**
 * train.threads and data.workers against this machine (src/threads.ts). Apart from validate()
 * so a checkpoint written on a bigger machine still loads and takes an override; loadConfig and
 * the training run call it on the final config.
 */
export function checkThreadCounts(cfg: TrainConfig): void {
  const problem =
    (cfg.train.threads !== null
      ? threadCountProblem(`config key 'train.threads'`, cfg.train.threads)
      : null) ?? threadCountProblem(`config key 'data.workers'`, cfg.data.workers, 0);
  if (problem) throw new ConfigError(problem);
}

export interface LoadOptions {
  /** YAML config file */
  file?: string;
  /** `key=value` texts, applied in order after the file */
  overrides?: string[];
}

/** Defaults ← YAML file(s) ← overrides, validated. */
export function loadConfig(opts: LoadOptions = {}): TrainConfig {
  const cfg = defaultConfig();
  if (opts.file)
    for (const { file, doc } of readYaml(opts.file) as { file: string; doc: unknown }[])
      mergeObject(cfg, doc, file);
  for (const o of opts.overrides ?? []) applyOverride(cfg, o);
  validate(cfg);
  checkThreadCounts(cfg);
  return cfg;
}

/** A config read back from a checkpoint or run dir (JSON), validated like a file. */
export function configFromObject(obj: unknown, where = 'checkpoint config'): TrainConfig {
  const cfg = defaultConfig();
  mergeObject(cfg, obj, where);
  validate(cfg);
  return cfg;
}

export function configToYaml(cfg: TrainConfig): string {
  return YAML.stringify(cfg, { lineWidth: 0 });
}

/** Help text listing every key, for `eflip train --help-config`. */
export function configReference(): string {
  const lines: string[] = [];
  for (const path of leafPaths(SCHEMA)) {
    const leaf = lookup(SCHEMA, path) as any;
    const alias = Object.entries(ALIASES)
      .filter(([, p]) => p === path)
      .map(([a]) => a);
    lines.push(
      `  ${path.padEnd(32)} ${leaf.help} [${leaf.kind}${leaf.choices ? `: ${leaf.choices.join('|')}` : ''}, default ${JSON.stringify(leaf.default)}]${alias.length ? ` (alias: ${alias.join(', ')})` : ''}`,
    );
  }
  return lines.join('\n');
}
