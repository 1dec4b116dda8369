// Resuming from a damaged or edited training checkpoint (issue #16's contract: one line naming
// the problem, bounded time and memory, no file of the user's changed): every train_state field
// the resume path reads is validated before anything is written, and NaN/Inf in the weights, the
// EMA or the optimizer moments are refused like readModelFile refuses them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, readCheckpoint } from '../src/train/checkpoint.js';
import { readSafetensors, serializeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { configs, eflip, tinyCorpus, tinyOverrides } from './train_helpers.js';
import { assertRefused, assertUnchanged, runEflip, snapshot, tempDir } from './hostile_helpers.js';

type Json = any;

const tmp = tempDir('eflip-hostile-resume-');
const runA = join(tmp, 'A');
const craftDir = join(tmp, 'craft');
let made: { ckpt: string; tensors: Map<string, RawTensor>; meta: Record<string, string> } | null =
  null;

/** A real mid-epoch checkpoint: 2 epochs of 4 steps (8 clips, batch 2) stopped after step 5. */
function base() {
  if (made) return made;
  const r = eflip([
    'train',
    '--config',
    join(configs, 'synth.yaml'),
    ...tinyOverrides(tinyCorpus(), runA),
    'train.epochs=2',
    'train.max_steps=5',
  ]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const ckpt = join(runA, 'checkpoints', 'last.ckpt');
  const f = readSafetensors(ckpt);
  made = { ckpt, tensors: f.tensors, meta: f.metadata };
  return made;
}

let n = 0;
/** A copy of the checkpoint with its train_state edited (or its tensors, by `tensors`). */
function craft(
  editState: (s: Json) => Json | void,
  tensors?: (m: Map<string, RawTensor>) => void,
): string {
  const b = base();
  const state = JSON.parse(b.meta.train_state);
  const edited = editState(state) ?? state;
  const t = new Map(b.tensors);
  tensors?.(t);
  const path = join(craftDir, `c${n++}.ckpt`);
  mkdirSync(craftDir, { recursive: true });
  writeFileSync(path, serializeSafetensors(t, { ...b.meta, train_state: JSON.stringify(edited) }));
  return path;
}

/** The tensor `key` with its element `at` set to `v` (a copy: the base stays clean). */
function poison(m: Map<string, RawTensor>, key: string, v: number, at = 0): void {
  const t = m.get(key);
  assert.ok(t && t.dtype === 'float32', `${key} is a float32 tensor of the checkpoint`);
  const data = new Uint8Array(t.data);
  new DataView(data.buffer).setFloat32(at * 4, v, true);
  m.set(key, { ...t, data });
}

test('the base checkpoint is what the cases edit: epoch 2 of 2, batch 1 of 4, step 5', () => {
  const ck = readCheckpoint(base().ckpt);
  assert.equal(ck.state.epoch, 1);
  assert.equal(ck.state.batchInEpoch, 1);
  assert.equal(ck.state.step, 5);
  assert.equal((ck.state.scheduler.spec as Json).totalSteps, 8);
  assert.ok(ck.state.callbacks.ModelCheckpoint, 'ModelCheckpoint state saved');
});

test('every train_state field the resume path reads is validated, the bad one named', () => {
  const cases: [string, (s: Json) => Json | void, RegExp][] = [
    [
      'only a version',
      () => ({ version: 1 }),
      /train_state\.scheduler must be an object, got nothing/,
    ],
    ['not an object', () => [1], /checkpoint version undefined/],
    [
      'epoch a string',
      (s) => void (s.epoch = 'x'),
      /train_state\.epoch must be an integer from 0 to train_config\.train\.epochs=2, got "x"/,
    ],
    ['epoch past the run', (s) => void (s.epoch = 99), /train_state\.epoch must be .* got 99/],
    [
      'batchInEpoch -3',
      (s) => void (s.batchInEpoch = -3),
      /train_state\.batchInEpoch must be an integer from 0 to 4 \(the batches of an epoch of the run that wrote it\), got -3/,
    ],
    [
      'batchInEpoch 1e12',
      (s) => void (s.batchInEpoch = 1e12),
      /train_state\.batchInEpoch must be .* got 1000000000000/,
    ],
    [
      'batchInEpoch 1.5',
      (s) => void (s.batchInEpoch = 1.5),
      /train_state\.batchInEpoch must be .* got 1\.5/,
    ],
    ['step -1', (s) => void (s.step = -1), /train_state\.step must be an integer >= 0, got -1/],
    [
      'epochDone "yes"',
      (s) => void (s.epochDone = 'yes'),
      /train_state\.epochDone must be true or false/,
    ],
    [
      'scheduler.step "abc"',
      (s) => void (s.scheduler.step = 'abc'),
      /train_state\.scheduler\.step must be an integer >= 0, got "abc"/,
    ],
    [
      'scheduler.spec.lr "x"',
      (s) => void (s.scheduler.spec.lr = 'x'),
      /train_state\.scheduler\.spec\.lr must be a finite number >= 0/,
    ],
    [
      'scheduler.spec.totalSteps 7',
      (s) => void (s.scheduler.spec.totalSteps = 7),
      /train_state\.scheduler\.spec\.totalSteps must be a whole number of epochs \(train_config\.train\.epochs=2\), got 7/,
    ],
    [
      'optimizer missing',
      (s) => void delete s.optimizer,
      /train_state\.optimizer must be an object, got nothing/,
    ],
    [
      'optimizer.step "NaN"',
      (s) => void (s.optimizer.step = 'NaN'),
      /train_state\.optimizer\.step must be an integer >= 0, got "NaN"/,
    ],
    [
      'optimizer.betas [0.9]',
      (s) => void (s.optimizer.betas = [0.9]),
      /train_state\.optimizer\.betas must be two numbers/,
    ],
    [
      'optimizer.noDecay [1]',
      (s) => void (s.optimizer.noDecay = [1]),
      /train_state\.optimizer\.noDecay must be a list of parameter names/,
    ],
    [
      'ema.updates -1',
      (s) => void (s.ema.updates = -1),
      /train_state\.ema\.updates must be an integer >= 0/,
    ],
    ['ema "x"', (s) => void (s.ema = 'x'), /train_state\.ema must be an object or null/],
    [
      'gradScaler.scale 0',
      (s) =>
        void (s.gradScaler = {
          scale: 0,
          growthTracker: 0,
          growthFactor: 2,
          backoffFactor: 0.5,
          growthInterval: 10,
        }),
      /train_state\.gradScaler\.scale must be a finite number > 0, got 0/,
    ],
    [
      'callbacks a list',
      (s) => void (s.callbacks = []),
      /train_state\.callbacks must be an object, got \[\]/,
    ],
    [
      'ModelCheckpoint.best "x"',
      (s) => void (s.callbacks.ModelCheckpoint.best = 'x'),
      /train_state\.callbacks\.ModelCheckpoint\.best must be a list, got "x"/,
    ],
    [
      'ModelCheckpoint.best[0] another file',
      (s) =>
        void (s.callbacks.ModelCheckpoint.best = [
          { path: '/etc/passwd', score: 1, epoch: 0, step: 0 },
        ]),
      /train_state\.callbacks\.ModelCheckpoint\.best\[0\]\.path must be the path of a top-k \.ckpt file, got "\/etc\/passwd"/,
    ],
    [
      'ModelCheckpoint.best[0] last.ckpt',
      (s) =>
        void (s.callbacks.ModelCheckpoint.best = [
          { path: 'last.ckpt', score: 1, epoch: 0, step: 0 },
        ]),
      /best\[0\]\.path must be the path of a top-k/,
    ],
    [
      'ModelCheckpoint.best[0].score "x"',
      (s) =>
        void (s.callbacks.ModelCheckpoint.best = [
          { path: 'a.ckpt', score: 'x', epoch: 0, step: 0 },
        ]),
      /best\[0\]\.score must be a finite number, got "x"/,
    ],
    [
      'ModelCheckpoint.lastPath 5',
      (s) => void (s.callbacks.ModelCheckpoint.lastPath = 5),
      /train_state\.callbacks\.ModelCheckpoint\.lastPath must be null or the path of a last\.ckpt, got 5/,
    ],
    [
      'EarlyStopping.wait -1',
      (s) => void (s.callbacks.EarlyStopping = { best: 'Infinity', wait: -1, stoppedEpoch: null }),
      /train_state\.callbacks\.EarlyStopping\.wait must be an integer >= 0/,
    ],
    [
      'EarlyStopping.best "x"',
      (s) => void (s.callbacks.EarlyStopping = { best: 'x', wait: 0, stoppedEpoch: null }),
      /train_state\.callbacks\.EarlyStopping\.best must be a number or ±"Infinity"/,
    ],
    ['rng null', (s) => void (s.rng = null), /train_state\.rng must be an object, got null/],
    [
      'world.globalBatch 3',
      (s) => void (s.world = { size: 2, globalBatch: 3 }),
      /train_state\.world\.globalBatch must be world\.size × train_config\.train\.batch_size = 4, got 3/,
    ],
    [
      'metrics.val_loss {}',
      (s) => void (s.metrics = { val_loss: {} }),
      /train_state\.metrics\.val_loss must be a number/,
    ],
  ];
  for (const [label, edit, re] of cases) {
    const p = craft(edit);
    assert.throws(
      () => readCheckpoint(p),
      (e: Error) => e instanceof CheckpointError && re.test(e.message) && !e.message.includes('\n'),
      label,
    );
  }
  // an unknown callback's state belongs to a library user's callback: left to its loadStateDict
  const ok = craft((s) => void (s.callbacks.MyCallback = 'anything'));
  assert.equal(readCheckpoint(ok).state.step, 5);
});

test('NaN/Inf in the weights, the EMA or the optimizer moments is refused', () => {
  const cases: [string, (m: Map<string, RawTensor>) => void, RegExp][] = [
    [
      'model NaN',
      (m) => poison(m, 'model.fc_layer.weight', NaN, 3),
      /c\d+\.ckpt: weight 'fc_layer\.weight' contains NaN\/Inf \(element 3\)/,
    ],
    [
      'EMA NaN',
      (m) => poison(m, 'ema.fc_layer.weight', NaN),
      /c\d+\.ckpt \(EMA weights\): weight 'fc_layer\.weight' contains NaN\/Inf \(element 0\)/,
    ],
    [
      'EMA BN buffer Inf',
      (m) =>
        poison(
          m,
          [...m.keys()].find((k) => /^ema\..*running_var$/.test(k))!,
          Infinity,
        ),
      /\(EMA weights\): weight '.*running_var' contains NaN\/Inf/,
    ],
    [
      'optimizer moment Inf',
      (m) => poison(m, 'optim.fc_layer.weight.exp_avg_sq', -Infinity, 1),
      /c\d+\.ckpt \(optimizer state\): weight 'fc_layer\.weight\.exp_avg_sq' contains NaN\/Inf \(element 1\)/,
    ],
  ];
  for (const [label, edit, re] of cases) {
    const p = craft(() => undefined, edit);
    assert.throws(
      () => readCheckpoint(p),
      (e: Error) => e instanceof CheckpointError && re.test(e.message),
      label,
    );
  }
});

test('eflip train refuses a bad checkpoint in one line before it writes anything', async () => {
  const b = base();
  const files = [
    ['only a version', craft(() => ({ version: 1 })), /train_state\.scheduler must be an object/],
    [
      'batchInEpoch 1e12',
      craft((s) => void (s.batchInEpoch = 1e12)),
      /train_state\.batchInEpoch must be an integer from 0 to 4/,
    ],
    [
      'batchInEpoch -3',
      craft((s) => void (s.batchInEpoch = -3)),
      /train_state\.batchInEpoch must be/,
    ],
    [
      'ModelCheckpoint.best "x"',
      craft((s) => void (s.callbacks.ModelCheckpoint.best = 'x')),
      /train_state\.callbacks\.ModelCheckpoint\.best must be a list/,
    ],
    [
      'scheduler.step "abc"',
      craft((s) => void (s.scheduler.step = 'abc')),
      /train_state\.scheduler\.step must be an integer/,
    ],
    [
      'EMA NaN',
      craft(
        () => undefined,
        (m) => poison(m, 'ema.fc_layer.weight', NaN),
      ),
      /\(EMA weights\): weight 'fc_layer\.weight' contains NaN\/Inf/,
    ],
  ] as const;
  const before = snapshot(tmp);
  for (const [label, p, re] of files) {
    const out = join(tmp, `resumed-${label.replace(/\W+/g, '_')}`);
    const r = await runEflip(['train', `checkpoint=${p}`, `run_dir=${out}`, 'train.epochs=3']);
    assertRefused(r, re, { label, code: 1 });
    assert.ok(!existsSync(out), `${label}: nothing written (${out} exists)`);
  }
  // the checkpoints, the run they came from and its metrics.jsonl are untouched
  assertUnchanged(tmp, before, { label: 'after the refusals' });
  assert.ok(existsSync(b.ckpt));
});

test('restore: a loader position past an epoch of this run is refused; a new batch size maps', async () => {
  // batch 3 of 4 of epoch 2 (valid for the run that wrote it), resumed with 2 batches an epoch
  const p = craft((s) => {
    s.batchInEpoch = 3;
    s.epochDone = false;
    s.step = s.scheduler.step = s.optimizer.step = 7;
  });
  const before = snapshot(runA);
  const r = await runEflip([
    'train',
    `checkpoint=${p}`,
    `run_dir=${join(tmp, 'limited')}`,
    'train.limit_train_batches=2',
  ]);
  assertRefused(
    r,
    /train_state\.batchInEpoch must be at most 2, the batches of an epoch of this run, got 3 \(the training data or train\.limit_train_batches differ from the run that wrote it; resume with those\)/,
    { code: 1 },
  );
  assert.ok(!existsSync(join(tmp, 'limited', 'checkpoints', 'last.ckpt')), 'nothing trained');
  assertUnchanged(runA, before, { label: 'the source run' });
  // another batch size is checked against the checkpoint's own config (the override does not
  // leak into it) and mapped over in clips
  const c = eflip([
    'train',
    `checkpoint=${base().ckpt}`,
    `run_dir=${join(tmp, 'batch4')}`,
    'train.batch_size=4',
  ]);
  assert.equal(c.status, 0, c.stderr + c.stdout);
  assert.match(c.stdout, /written with a global batch of 2 clips .* this run uses 4/);
  assert.match(c.stdout, /training finished/);
  assertUnchanged(runA, before, { label: 'the source run after the mapped resume' });
});
