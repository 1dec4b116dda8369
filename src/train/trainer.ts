// The training loop (minGPT-sized, Lightning hook names): epochs of optimizer steps with
// AdamW + warmup-cosine, label smoothing, mixup, gradient clipping, on train.device with
// train.precision (bf16 autocast, fp16 autocast with loss scaling; src/train/device_step.ts),
// EMA (validation/test with EMA weights), callbacks (early stopping, top-k checkpoints),
// exact metrics, metrics.jsonl, progress bars, resumable checkpoints, and fault handling
// (NaN/Inf loss, SIGINT, out-of-memory).
import { join } from 'node:path';
import { Tensor, tidy, noGrad, manualSeed, fromBytes, F, clipGradNorm_ } from '../engine/index.js';
import type { RawTensor } from '../io/safetensors.js';
import { mixSeed } from '../data/rng.js';
import { DatasetError } from '../data/dataset.js';
import { AdamW } from './adamw.js';
import { Ema } from './ema.js';
import { WarmupCosine, lrAt } from './schedule.js';
import type { EvalMetrics } from './metrics.js';
import { MetricsLog } from './metrics_log.js';
import { ProgressBar } from './progress.js';
import { evaluateSource } from './evaluate.js';
import {
  checkTrainState,
  writeCheckpoint,
  type CheckpointContent,
  type TrainState,
  CHECKPOINT_VERSION,
} from './checkpoint.js';
import type { Callback, EpochMetrics, TrainerHandle } from './callbacks.js';
import type { TrainConfig } from './config.js';
import { TrainDevice, hostFloat32 } from './device_step.js';
import type { BatchSource, TrainBatch } from './batch_source.js';

/** What the trainer needs of a network (src/model's LipReader satisfies it through an adapter). */
export interface TrainableModel {
  /** (B, C, T, H, W) → (B, classes) log-probabilities */
  forward(x: Tensor): Tensor;
  train(mode: boolean): void;
  /** parameters (trainable) in a stable order */
  namedParameters(): [string, Tensor][];
  /** parameters and buffers (the state dict), live tensors */
  stateTensors(): Map<string, Tensor>;
}

/** Data-parallel hooks (src/train/distributed_run.ts); absent for a single process. */
export interface TrainerDist {
  readonly rank: number;
  readonly worldSize: number;
  /** elementwise sums over ranks */
  sum(xs: ArrayLike<number>): Float64Array;
  /** gradient averaging: armed before backward, completed after it */
  beforeBackward(): void;
  afterBackward(): void;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}
export class OutOfMemoryError extends Error {
  override name = 'OutOfMemoryError';
}
/** The batch source failed mid-run (a corrupt or truncated shard, a dead loader worker); a resumable checkpoint was saved first. */
export class DataError extends Error {
  override name = 'DataError';
  constructor(
    message: string,
    readonly checkpoint: string | null,
  ) {
    super(message);
  }
}
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(readonly checkpoint: string) {
    super(`interrupted: resumable checkpoint saved to ${checkpoint}`);
  }
}

const OOM_RE =
  /out of memory|bad_alloc|can't allocate memory|DefaultCPUAllocator|CUDA error: out of memory/i;

export interface TrainerOptions {
  config: TrainConfig;
  labels: string[];
  model: TrainableModel;
  /** ModelConfig JSON (travels in checkpoints as "config") */
  modelConfig: Record<string, unknown>;
  preprocessing: { crop: string; size: number; mean: number; std: number };
  train: BatchSource;
  val?: BatchSource;
  test?: BatchSource;
  runDir: string;
  checkpointDir: string;
  callbacks?: Callback[];
  /** print function (default console.log) */
  log?: (msg: string) => void;
  /** progress stream (default process.stdout) */
  stream?: NodeJS.WriteStream;
  /** batch hook run before the forward pass (mixup or other batch-level augmentation) */
  onBatch?: (b: TrainBatch, step: number) => TrainBatch;
  /** data-parallel training: gradients averaged, metrics summed over ranks, rank 0 alone writes */
  dist?: TrainerDist;
  /** device and precision (default: from config.train; the model must already live there) */
  device?: TrainDevice;
}

export interface FitResult {
  steps: number;
  epochs: number;
  stopReason: string;
  best: { path: string | null; score: number | null };
  lastCheckpoint: string | null;
  test?: EvalMetrics;
  val?: EvalMetrics;
}

export class Trainer implements TrainerHandle {
  epoch = 0;
  step = 0;
  batchInEpoch = 0;
  shouldStop = false;
  stopReason?: string;
  readonly optimizer: AdamW;
  readonly ema: Ema | null;
  readonly scheduler: WarmupCosine;
  readonly metricsLog: MetricsLog;
  readonly callbacks: Callback[];
  /** train.device / train.precision: autocast, loss scaling, batches on the device */
  readonly dev: TrainDevice;
  lastMetrics: Record<string, number> = {};
  private interrupted = false;
  /** data-parallel: some rank was interrupted (agreed by all ranks at the last step) */
  private interruptAgreed = false;
  private readonly params: [string, Tensor][];
  private readonly log_: (msg: string) => void;

  constructor(readonly opts: TrainerOptions) {
    const c = opts.config;
    this.log_ = opts.log ?? ((m) => console.log(m));
    this.dev = opts.device ?? TrainDevice.fromConfig(c);
    this.params = opts.model.namedParameters();
    this.optimizer = new AdamW(
      this.params.map(([name, param]) => ({ name, param })),
      {
        lr: c.optim.lr,
        betas: c.optim.betas,
        eps: c.optim.eps,
        weightDecay: c.optim.weight_decay,
        noDecayNormBias: c.optim.no_decay_norm_bias,
      },
    );
    this.ema = c.ema.enabled ? new Ema(opts.model.stateTensors(), c.ema.decay) : null;
    const perEpoch = this.stepsPerEpoch;
    this.scheduler = new WarmupCosine({
      lr: c.optim.lr,
      totalSteps: perEpoch * c.train.epochs,
      warmupSteps: Math.round(c.schedule.warmup_epochs * perEpoch),
      minLr: c.schedule.min_lr,
      warmupStart: c.schedule.warmup_start,
    });
    this.metricsLog = new MetricsLog(join(opts.runDir, 'metrics.jsonl'));
    this.callbacks = opts.callbacks ?? [];
  }

  get stepsPerEpoch(): number {
    const lim = this.opts.config.train.limit_train_batches;
    return Math.max(
      1,
      lim ? Math.min(lim, this.opts.train.batchesPerEpoch) : this.opts.train.batchesPerEpoch,
    );
  }

  log(msg: string): void {
    this.log_(msg);
  }

  get worldSize(): number {
    return this.opts.dist?.worldSize ?? 1;
  }

  /** clips per optimizer step over all ranks */
  get globalBatch(): number {
    return this.opts.config.train.batch_size * this.worldSize;
  }

  /** Rank 0 (or the only process) writes checkpoints and metrics.jsonl. */
  get writesFiles(): boolean {
    return !this.opts.dist || this.opts.dist.rank === 0;
  }

  private appendMetrics(rec: Parameters<MetricsLog['append']>[0]): void {
    if (this.writesFiles) this.metricsLog.append(rec);
  }

  // ---------------------------------------------------------------- checkpoints

  private static raw(t: Tensor): RawTensor {
    const c = t.dtype === 'bfloat16' || t.dtype === 'float16' ? t.float() : t;
    return { dtype: c.dtype as RawTensor['dtype'], shape: c.shape, data: c.contiguous().toBytes() };
  }

  private trainState(extra: Record<string, unknown> = {}): TrainState {
    const c = this.opts.config;
    const cb: Record<string, unknown> = {};
    for (const k of this.callbacks) if (k.stateDict) cb[k.name] = k.stateDict();
    return {
      version: CHECKPOINT_VERSION,
      epoch: this.epoch,
      batchInEpoch: this.batchInEpoch,
      step: this.step,
      epochDone: this.batchInEpoch === 0,
      optimizer: {
        step: this.optimizer.stepCount,
        lr: this.scheduler.lr,
        betas: c.optim.betas,
        eps: c.optim.eps,
        weightDecay: c.optim.weight_decay,
        noDecay: [...this.optimizer.noDecay],
      },
      scheduler: this.scheduler.stateDict(),
      ema: this.ema ? { updates: this.ema.updates, decay: this.ema.decay } : null,
      gradScaler: this.dev.scaler ? this.dev.scaler.stateDict() : null,
      callbacks: cb,
      rng: {
        seed: c.seed,
        scheme:
          'libtorch reseeded with mix(seed, step) before each step; loader order and augmentation from (seed, epoch, index)',
      },
      metrics: this.lastMetrics,
      world: { size: this.worldSize, globalBatch: this.globalBatch },
      ...extra,
    };
  }

  checkpointContent(extra: Record<string, unknown> = {}): CheckpointContent {
    return tidy(() => {
      const model = new Map<string, RawTensor>();
      for (const [k, t] of this.opts.model.stateTensors()) model.set(k, Trainer.raw(t.detach()));
      let ema: Map<string, RawTensor> | null = null;
      if (this.ema) {
        ema = new Map();
        for (const [k, t] of this.ema.shadow) ema.set(k, Trainer.raw(t));
      }
      const optim = new Map<string, RawTensor>();
      for (const [k, t] of this.optimizer.stateTensors()) optim.set(k, Trainer.raw(t));
      return {
        model,
        ema,
        optim,
        modelConfig: this.opts.modelConfig,
        labels: this.opts.labels,
        preprocessing: this.opts.preprocessing,
        // the precision the steps ran in (train.precision=auto resolved), not the request
        trainConfig: {
          ...this.opts.config,
          train: { ...this.opts.config.train, precision: this.dev.precision },
        },
        state: this.trainState(extra),
      };
    });
  }

  saveCheckpoint(path: string, extra: Record<string, unknown> = {}): void {
    if (!this.writesFiles) return;
    writeCheckpoint(path, this.checkpointContent(extra));
  }

  /** Restore everything from a checkpoint (resume); a bad train_state is refused before any of it. */
  restore(ck: CheckpointContent): void {
    checkTrainState(ck.state, ck.trainConfig, ck.source ?? 'checkpoint', {
      stepsPerEpoch: this.stepsPerEpoch,
      globalBatch: this.globalBatch,
    });
    const toT = (r: RawTensor) => fromBytes(r.data, r.dtype as any, r.shape);
    const live = this.opts.model.stateTensors();
    const missing: string[] = [];
    tidy(() =>
      noGrad(() => {
        for (const [k, t] of live) {
          const r = ck.model.get(k);
          if (!r || r.shape.join() !== t.dims.join()) {
            missing.push(k);
            continue;
          }
          t.copy_(toT(r));
        }
      }),
    );
    if (missing.length)
      throw new Error(
        `checkpoint does not match the model: ${missing.length} tensors missing or mis-shaped (${missing.slice(0, 5).join(', ')})`,
      );
    tidy(() => {
      const optMissing = this.optimizer.loadStateTensors(
        (k) => (ck.optim.has(k) ? toT(ck.optim.get(k)!) : undefined),
        ck.state.optimizer.step,
      );
      if (optMissing.length)
        this.log(
          `warning: ${optMissing.length} optimizer moments missing in the checkpoint (start from zero)`,
        );
      if (this.ema) {
        const src = ck.ema;
        if (src)
          this.ema.load(
            (k) => (src.has(k) ? toT(src.get(k)!) : undefined),
            ck.state.ema?.updates ?? 0,
          );
        else
          this.log('warning: checkpoint has no EMA state; EMA restarts from the current weights');
      }
    });
    if (this.dev.scaler && ck.state.gradScaler) this.dev.scaler.loadStateDict(ck.state.gradScaler);
    this.scheduler.loadStateDict(ck.state.scheduler as { step: number });
    this.epoch = ck.state.epoch;
    this.batchInEpoch = ck.state.batchInEpoch;
    this.step = ck.state.step;
    // Any world size resumes any other. The same global batch continues the same trajectory;
    // another one maps the position in the epoch (in clips) and the schedule (in epochs) over.
    const was = ck.state.world ?? { size: 1, globalBatch: ck.trainConfig.train.batch_size };
    if (was.globalBatch !== this.globalBatch) {
      const clips = this.batchInEpoch * was.globalBatch;
      this.batchInEpoch = Math.min(this.stepsPerEpoch - 1, Math.floor(clips / this.globalBatch));
      this.scheduler.loadStateDict({ step: this.epoch * this.stepsPerEpoch + this.batchInEpoch });
      this.log(
        `note: the checkpoint was written with a global batch of ${was.globalBatch} clips (${was.size} × ${was.globalBatch / was.size}), this run uses ${this.globalBatch} ` +
          `(${this.worldSize} × ${this.opts.config.train.batch_size}): resuming at batch ${this.batchInEpoch} of epoch ${this.epoch + 1} ` +
          `(${clips - this.batchInEpoch * this.globalBatch} clips of it seen twice) and at that point of the learning-rate schedule; optim.lr is not rescaled (see docs/distributed.md)`,
      );
    } else if (was.size !== this.worldSize) {
      this.log(
        `note: the checkpoint was written by ${was.size} process${was.size > 1 ? 'es' : ''}, resuming on ${this.worldSize} with the same global batch of ${this.globalBatch} clips`,
      );
    }
    for (const k of this.callbacks) {
      const s = ck.state.callbacks[k.name];
      if (s !== undefined && k.loadStateDict) k.loadStateDict(s);
    }
  }

  // ---------------------------------------------------------------- steps

  private lossOf(logp: Tensor, b: TrainBatch): Tensor {
    const ls = this.opts.config.train.label_smoothing;
    const target = (y: ArrayLike<number>) => this.dev.labels(y);
    // cross_entropy on log-probs = NLL (log_softmax is idempotent on log-probs) and supports smoothing
    const ce = (y: ArrayLike<number>, reduction: 'mean' | 'none' = 'mean') =>
      F.crossEntropy(logp, target(y), { labelSmoothing: ls, reduction });
    if (!b.y2 || b.lam === undefined) return ce(b.y);
    if (typeof b.lam === 'number')
      return ce(b.y)
        .mul(b.lam)
        .add(ce(b.y2).mul(1 - b.lam));
    // per-sample λ: mean over the batch of λᵢ·Lᵢ(y) + (1−λᵢ)·Lᵢ(y2)
    const lam = this.dev.floats(b.lam);
    return ce(b.y, 'none')
      .mul(lam)
      .add(ce(b.y2, 'none').mul(lam.rsub(1)))
      .mean();
  }

  /** Global gradient norm, clipped to maxNorm (one host sync, also on a GPU). */
  private clipGradients(maxNorm: number): number {
    return clipGradNorm_(
      this.params.map(([, p]) => p),
      maxNorm,
    );
  }

  /** One optimizer step (skipped when fp16 loss scaling finds inf/NaN gradients); returns loss and batch correct count. */
  trainStep(batch: TrainBatch): {
    loss: number;
    correct: number;
    n: number;
    gradNorm: number;
    logp: Float32Array;
    skipped: boolean;
  } {
    const c = this.opts.config;
    const dist = this.opts.dist;
    // dropout differs between ranks (rank 0 draws what a single process draws)
    manualSeed(
      dist && dist.rank > 0
        ? mixSeed(c.seed, this.step, 0x5eed, dist.rank)
        : mixSeed(c.seed, this.step, 0x5eed),
    );
    const lr = this.scheduler.lr;
    const out = tidy(() => {
      const logp = this.dev.autocast(() => this.opts.model.forward(batch.x)).float();
      const loss = this.lossOf(logp, batch);
      const lossValue = loss.item();
      const lp = hostFloat32(logp.detach());
      const n = batch.y.length;
      const correct = this.correctOf(lp, batch.y);
      let lossAll = lossValue,
        correctAll = correct,
        nAll = n;
      let badRanks = Number.isFinite(lossValue) ? 0 : 1;
      if (dist) {
        // one small all-reduce per step: non-finite losses, interrupts, and the global loss/accuracy
        const r = dist.sum([
          badRanks,
          this.interrupted ? 1 : 0,
          Number.isFinite(lossValue) ? lossValue * n : 0,
          correct,
          n,
        ]);
        badRanks = r[0];
        this.interruptAgreed = r[1] > 0;
        lossAll = r[2] / r[4];
        correctAll = r[3];
        nAll = r[4];
      }
      if (badRanks > 0) {
        throw new NonFiniteLossError(
          `loss is ${Number.isFinite(lossValue) ? 'not finite' : lossValue} at step ${this.step}${dist ? ` on ${badRanks} of ${dist.worldSize} ranks` : ''} (epoch ${this.epoch + 1}, batch ${this.batchInEpoch + 1}, lr ${lr.toExponential(3)}); ` +
            'training stopped before the optimizer update; the last checkpoint on disk is intact. ' +
            'Try a lower optim.lr, train.grad_clip=1.0, train.precision=fp32, or check the data.',
        );
      }
      const scaler = this.dev.scaler;
      // data-parallel: the (scaled) gradients are averaged over the ranks in buckets during backward
      dist?.beforeBackward();
      (scaler ? scaler.scaleLoss(loss) : loss).backward();
      dist?.afterBackward();
      // fp16: gradients back to their true size before clipping; a step with inf/NaN ones is skipped
      // (after averaging an inf/NaN reaches every rank, so all ranks skip together)
      const finite = scaler
        ? scaler.unscale(this.params.map(([, p]) => p.grad).filter((g): g is Tensor => g !== null))
        : true;
      const gradNorm =
        finite && c.train.grad_clip > 0 ? this.clipGradients(c.train.grad_clip) : NaN;
      if (finite) this.optimizer.step(lr);
      this.optimizer.zeroGrad();
      scaler?.update(finite);
      // data-parallel: loss and accuracy of the global batch (what one process with it would log)
      return { loss: lossAll, gradNorm, logp: lp, correct: correctAll, n: nAll, skipped: !finite };
    });
    if (this.ema && !out.skipped) this.ema.update(this.opts.model.stateTensors());
    this.scheduler.advance();
    this.step++;
    return out;
  }

  private correctOf(logp: Float32Array, y: ArrayLike<number>): number {
    const C = this.opts.labels.length;
    let correct = 0;
    for (let i = 0; i < y.length; i++) {
      let arg = 0;
      for (let k = 1; k < C; k++) if (logp[i * C + k] > logp[i * C + arg]) arg = k;
      if (arg === Number(y[i])) correct++;
    }
    return correct;
  }

  /** Exact metrics over a source, with EMA weights when enabled (and `useEma`). */
  async evaluate(
    source: BatchSource,
    opts: { useEma?: boolean; limit?: number | null; label?: string } = {},
  ): Promise<EvalMetrics> {
    const restore =
      opts.useEma !== false && this.ema ? this.ema.swapInto(this.opts.model.stateTensors()) : null;
    this.opts.model.train(false);
    try {
      const dist = this.opts.dist;
      return await evaluateSource((x) => this.opts.model.forward(x), source, this.opts.labels, {
        limit: opts.limit,
        label: opts.label,
        stream: this.opts.stream,
        device: this.dev.device,
        ...(dist ? { reduce: (v: Float64Array) => dist.sum(v) } : {}),
      });
    } finally {
      restore?.();
      this.opts.model.train(true);
    }
  }

  private call<K extends keyof Callback>(hook: K, ...args: unknown[]): void {
    for (const cb of this.callbacks) {
      const f = cb[hook] as ((...a: unknown[]) => void) | undefined;
      if (typeof f === 'function') f.call(cb, this, ...args);
    }
  }

  private wrapOom(e: unknown): unknown {
    const msg = (e as Error)?.message ?? String(e);
    if (e instanceof NonFiniteLossError || !OOM_RE.test(msg)) return e;
    const c = this.opts.config;
    return new OutOfMemoryError(
      `out of memory at step ${this.step} with train.batch_size=${c.train.batch_size}, ${c.data.frames} frames of ${c.data.size}×${c.data.size}, variant ${c.model.variant}. ` +
        `Lower train.batch_size (e.g. batch_size=${Math.max(1, Math.floor(c.train.batch_size / 2))}), use train.precision=bf16, a smaller variant, or fewer data.workers. ` +
        `The last checkpoint is intact. (${msg.split('\n')[0]})`,
    );
  }

  // ---------------------------------------------------------------- fit

  async fit(): Promise<FitResult> {
    const c = this.opts.config;
    // Ctrl-C (SIGINT) and a scheduler's SIGTERM (sent before it kills a job) both save a resumable checkpoint
    const onSigint = (sig: NodeJS.Signals) => {
      if (this.interrupted) process.exit(sig === 'SIGTERM' ? 143 : 130); // a second signal: leave at once
      this.interrupted = true;
      this.log(
        `\n${sig === 'SIGTERM' ? 'SIGTERM' : 'interrupt'}: finishing the current step and saving a resumable checkpoint (Ctrl-C again to abort)`,
      );
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const perEpoch = this.stepsPerEpoch;
    let lastCheckpoint: string | null = null;
    const lastPath = join(this.opts.checkpointDir, 'last.ckpt');
    try {
      this.call('onTrainStart');
      this.opts.model.train(true);
      while (this.epoch < c.train.epochs && !this.shouldStop) {
        this.call('onTrainEpochStart', this.epoch);
        const bar = new ProgressBar(`epoch ${this.epoch + 1}/${c.train.epochs}`, perEpoch, {
          stream: this.opts.stream,
        });
        let lossSum = 0,
          correct = 0,
          seen = 0;
        for await (let batch of this.dev.feed(
          this.opts.train.batches(this.epoch, this.batchInEpoch),
        )) {
          if (this.batchInEpoch >= perEpoch) {
            batch.x.dispose();
            break;
          }
          if (this.opts.onBatch) batch = this.opts.onBatch(batch, this.step);
          let r;
          try {
            r = this.trainStep(batch);
          } catch (e) {
            throw this.wrapOom(e);
          } finally {
            batch.x.dispose();
          }
          this.batchInEpoch++;
          lossSum += r.loss * r.n;
          correct += r.correct;
          seen += r.n;
          if (this.step % c.train.log_every === 0 || this.batchInEpoch === perEpoch) {
            const scale = this.dev.scaler
              ? { loss_scale: this.dev.scaler.scale, skipped_steps: this.dev.scaler.skipped }
              : {};
            this.appendMetrics({
              kind: 'step',
              step: this.step,
              epoch: this.epoch,
              loss: r.loss,
              acc: r.correct / r.n,
              lr: this.lastLr(),
              ...(Number.isFinite(r.gradNorm) ? { grad_norm: r.gradNorm } : {}),
              ...scale,
            });
          }
          bar.update(this.batchInEpoch, r.n, {
            loss: lossSum / seen,
            acc: correct / seen,
            lr: this.lastLr(),
          });
          this.call('onTrainBatchEnd', { loss: r.loss, step: this.step, batch: this.batchInEpoch });
          if (this.opts.dist ? this.interruptAgreed : this.interrupted) {
            bar.done();
            this.saveCheckpoint(lastPath, { reason: 'interrupted' });
            this.opts.dist?.sum([0]); // every rank leaves after rank 0 has written it
            throw new InterruptedError(lastPath);
          }
          if (c.train.max_steps !== null && this.step >= c.train.max_steps) {
            this.shouldStop = true;
            this.stopReason = `reached train.max_steps=${c.train.max_steps}`;
            break;
          }
        }
        bar.done();
        const epochDone = this.batchInEpoch >= perEpoch;
        if (!seen && !epochDone && !this.shouldStop)
          throw new DatasetError(
            `the training data gave no batch in epoch ${this.epoch + 1} (expected ${perEpoch - this.batchInEpoch} more)`,
          );
        // (data-parallel: r.loss, r.correct and r.n already describe the global batch)
        const m: EpochMetrics = {
          train_loss: seen ? lossSum / seen : NaN,
          train_acc: seen ? correct / seen : NaN,
          lr: this.lastLr(),
        };
        if (epochDone) {
          this.epoch++;
          this.batchInEpoch = 0;
          this.call('onTrainEpochEnd', m);
          if (this.opts.val && this.epoch % c.train.val_every === 0) {
            const v = await this.evaluate(this.opts.val, {
              limit: c.train.limit_val_batches,
              label: `val ${this.epoch}`,
            });
            Object.assign(m, {
              val_loss: v.loss,
              val_acc: v.top1,
              val_top5: v.top5,
              val_f1: v.f1Weighted,
            });
          }
          this.lastMetrics = m;
          this.appendMetrics({ kind: 'epoch', step: this.step, epoch: this.epoch - 1, ...m });
          this.log(
            `epoch ${this.epoch}: ${Object.entries(m)
              .map(([k, v]) => `${k} ${k === 'lr' ? v.toExponential(2) : v.toFixed(4)}`)
              .join(', ')}`,
          );
          // ModelCheckpoint (top-k + last) and EarlyStopping act here
          this.call('onValidationEpochEnd', m);
        }
        if (this.shouldStop && !epochDone) {
          // stopped mid-epoch (max_steps): keep a resumable checkpoint
          this.saveCheckpoint(lastPath, { reason: this.stopReason });
          lastCheckpoint = lastPath;
        }
      }
      this.call('onTrainEnd');
    } catch (e) {
      this.call('onException', e);
      if (e instanceof DatasetError) throw this.saveOnDataError(e, lastPath);
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
    const mc = this.callbacks.find((k) => k.name === 'ModelCheckpoint') as
      | (Callback & { bestPath: string | null; best: { score: number }[]; lastPath: string | null })
      | undefined;
    return {
      steps: this.step,
      epochs: this.epoch,
      stopReason:
        this.stopReason ?? (this.epoch >= c.train.epochs ? 'completed all epochs' : 'stopped'),
      best: { path: mc?.bestPath ?? null, score: mc?.best[0]?.score ?? null },
      lastCheckpoint: mc?.lastPath ?? lastCheckpoint,
    };
  }

  /** Data failed between steps, so the state is consistent: keep it as a resumable checkpoint. */
  private saveOnDataError(e: DatasetError, lastPath: string): DataError {
    const where = `step ${this.step} (epoch ${this.epoch + 1}, batch ${this.batchInEpoch + 1})`;
    try {
      this.saveCheckpoint(lastPath, { reason: 'data error' });
    } catch (se) {
      return new DataError(
        `${e.message}; training stopped at ${where}, and the checkpoint could not be saved: ${(se as Error).message}`,
        null,
      );
    }
    return new DataError(
      `${e.message}; training stopped at ${where}, resumable checkpoint saved to ${lastPath}`,
      lastPath,
    );
  }

  /** lr of the step just taken */
  private lastLr(): number {
    return lrAt(this.scheduler.spec, Math.max(0, this.scheduler.step - 1));
  }
}
