// Issue #14: a checkpoint of the reference implementation gives the reference's answers in eflip.
// tools/torch_ref/reference_ckpt.py builds Lightning-style checkpoints as the reference writes
// them (omegaconf hyper-parameters, EMA callback state, optimizer state; non-trivial weights:
// perturbed norms, BatchNorm statistics from real clips) and predicts real mp4 clips as the
// reference does at batch 1 (its preprocessing, each frame attending only to itself).
// `eflip import` without flags, then `eflip predict` on both runtimes and on the ONNX export,
// must give the same top-5 and log-probs within 1e-4.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader } from '../src/io/safetensors.js';
import { LRW_WORDS_SEED42 } from '../src/model/lrw_words.js';
import { hasTorch, PYTHON, ROOT, TORCH_REF, tempDir } from './model_helpers.js';
import { runEflip } from './hostile_helpers.js';

const hasOmegaconf = (): boolean => {
  try {
    execFileSync(PYTHON, ['-c', 'import omegaconf'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const skip = !hasTorch()
  ? 'python3-torch not available at /usr/bin/python3'
  : !hasOmegaconf()
    ? 'python3-omegaconf not installed (scripts/setup.sh installs it)'
    : false;
const SAMPLES = join(ROOT, 'assets/samples');
const clips = skip
  ? []
  : readdirSync(SAMPLES)
      .filter((f) => f.endsWith('.mp4'))
      .sort()
      .slice(0, 4)
      .map((f) => join(SAMPLES, f));
const { dir, cleanup } = tempDir('refimport');
after(cleanup);

const refPy = (args: string[]) =>
  execFileSync(PYTHON, [join(TORCH_REF, 'reference_ckpt.py'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
type RefOut = Record<string, number[]>;
let ref100: RefOut;

before(() => {
  if (skip) return;
  refPy([
    'make',
    '--words',
    '100',
    '--clips',
    clips.join(','),
    '--out',
    join(dir, 'r100.ckpt'),
    '--ema-out',
    join(dir, 'e100.safetensors'),
    '--seed',
    '3',
  ]);
  refPy([
    'predict',
    '--weights',
    join(dir, 'e100.safetensors'),
    '--clips',
    clips.join(','),
    '--out',
    join(dir, 'p100.json'),
  ]);
  ref100 = JSON.parse(readFileSync(join(dir, 'p100.json'), 'utf8')) as RefOut;
});

interface Top {
  label: string;
  probability: number;
  logProb: number;
}
async function predict(model: string, extra: string[] = []): Promise<Map<string, Top[]>> {
  const r = await runEflip(
    ['predict', ...clips, '--checkpoint', model, '--json', '--top', '5', '--batch', '4', ...extra],
    { timeoutMs: 180_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { results: { file: string; top: Top[] }[] };
  return new Map(out.results.map((x) => [x.file.split('/').pop()!, x.top]));
}

/** max |Δ log-prob| over each clip's top 5, after checking eflip's top 5 is the reference's. */
function compare(got: Map<string, Top[]>, ref: RefOut, labels: readonly string[]): number {
  let worst = 0;
  for (const [name, lp] of Object.entries(ref)) {
    const want = Array.from(lp.keys())
      .sort((a, b) => lp[b] - lp[a])
      .slice(0, 5);
    const top = got.get(name)!;
    assert.deepEqual(
      top.map((t) => t.label),
      want.map((i) => labels[i]),
      `${name}: top-5 words`,
    );
    top.forEach((t, k) => {
      worst = Math.max(worst, Math.abs(t.logProb - lp[want[k]]));
    });
  }
  return worst;
}

test(
  'import of a 100-word reference checkpoint, no flags: defaults printed; predict on libtorch, onnxruntime and the ONNX export equals the reference at batch 1 (≤ 1e-4)',
  { skip },
  async (ctx) => {
    const model = join(dir, 'm100.safetensors');
    const r = await runEflip(['import', join(dir, 'r100.ckpt'), '--out', model], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /weights: ema \(\d+ tensors at callbacks\['EMA'\]\['ema_state_dict'\]/);
    assert.match(r.stdout, /attention: self .*\[default for a reference \(Lightning\) checkpoint/);
    assert.match(
      r.stdout,
      /preprocess: crop center 88, mean 0\.4161 std 0\.1688, grey torchvision/,
    );
    assert.match(r.stdout, /labels: seed42 order, first 100 \(hyper-parameter words = 100\)/);
    const meta = readSafetensorsHeader(model).metadata;
    assert.equal(JSON.parse(meta.config).attention, 'self');
    assert.deepEqual(JSON.parse(meta.preprocessing), {
      crop: 'center',
      size: 88,
      mean: 0.4161,
      std: 0.1688,
      grey: 'torchvision',
    });
    const labels = JSON.parse(meta.labels) as string[];
    assert.deepEqual(
      labels,
      LRW_WORDS_SEED42.slice(0, 100),
      'the first 100 words of the seed-42 order',
    );

    const torch = compare(await predict(model, ['--runtime', 'torch']), ref100, labels);
    const ort = compare(await predict(model, ['--runtime', 'onnx']), ref100, labels);
    const onnx = join(dir, 'm100.onnx');
    const e = await runEflip(['export', '--checkpoint', model, '--out', onnx], {
      timeoutMs: 120_000,
    });
    assert.equal(e.code, 0, e.stderr);
    const exported = compare(await predict(onnx), ref100, labels);
    ctx.diagnostic(
      `max |Δ log-prob| vs the reference at batch 1 (top 5, ${clips.length} clips): libtorch ${torch.toExponential(2)}, onnxruntime ${ort.toExponential(2)}, ONNX export ${exported.toExponential(2)}`,
    );
    for (const d of [torch, ort, exported]) assert.ok(d <= 1e-4, `max |Δ| ${d}`);
    // streaming: the last 29-frame window of a 29-frame clip is the whole clip
    const st = await runEflip(['stream', clips[0], '--checkpoint', model, '--json'], {
      timeoutMs: 120_000,
    });
    assert.equal(st.code, 0, st.stderr);
    const last = (
      JSON.parse(st.stdout) as {
        timeline: { windowStart: number; top: { label: string; probability: number }[] }[];
      }
    ).timeline.at(-1)!;
    const lp = ref100[clips[0].split('/').pop()!];
    const best = Array.from(lp.keys()).sort((a, b) => lp[b] - lp[a])[0];
    assert.equal(last.windowStart, 0);
    assert.equal(last.top[0].label, labels[best], 'eflip stream: the reference top-1 word');
    const ds = Math.abs(Math.log(last.top[0].probability) - lp[best]);
    ctx.diagnostic(
      `eflip stream, last window: |Δ log-prob| of the top word = ${ds.toExponential(2)}`,
    );
    assert.ok(ds <= 1e-4, `stream |Δ| ${ds}`);
  },
);

test(
  'the same checkpoint with --attention time reads the clips differently; --weights raw takes state_dict',
  { skip },
  async (ctx) => {
    const model = join(dir, 'm100_time.safetensors');
    const r = await runEflip(
      ['import', join(dir, 'r100.ckpt'), '--out', model, '--attention', 'time', '--weights', 'raw'],
      { timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /attention: time .*\[--attention/);
    assert.match(
      r.stdout,
      /weights: raw \(state_dict\) \[--weights\]; EMA weights at callbacks\['EMA'\]/,
    );
    const raw = readSafetensors(model).tensors.get('fc_layer.weight')!,
      ema = readSafetensors(join(dir, 'm100.safetensors')).tensors.get('fc_layer.weight')!;
    assert.notDeepEqual(
      Buffer.from(raw.data),
      Buffer.from(ema.data),
      'raw and EMA weights differ, and each import took the one asked for',
    );
    const timeModel = join(dir, 'm100_time_ema.safetensors');
    assert.equal(
      (
        await runEflip(
          ['import', join(dir, 'r100.ckpt'), '--out', timeModel, '--attention', 'time'],
          { timeoutMs: 120_000 },
        )
      ).code,
      0,
    );
    const got = await predict(timeModel, ['--runtime', 'torch']);
    let worst = 0;
    for (const [name, lp] of Object.entries(ref100)) {
      const labels = LRW_WORDS_SEED42.slice(0, 100);
      for (const t of got.get(name)!)
        worst = Math.max(worst, Math.abs(t.logProb - lp[labels.indexOf(t.label)]));
    }
    ctx.diagnostic(
      `attention time vs the reference's batch-1 answers: max |Δ log-prob| over the top 5 = ${worst.toFixed(3)}`,
    );
    assert.ok(worst > 1e-2, `the attention regime must change the answers (max |Δ| ${worst})`);
  },
);

test(
  'a 500-word reference checkpoint gets the full seed-42 order without flags; one without hyper-parameters is refused in one line asking for --labels',
  { skip },
  async () => {
    refPy([
      'make',
      '--words',
      '500',
      '--clips',
      clips.slice(0, 2).join(','),
      '--out',
      join(dir, 'r500.ckpt'),
      '--ema-out',
      join(dir, 'e500.safetensors'),
      '--seed',
      '4',
    ]);
    const model = join(dir, 'm500.safetensors');
    const r = await runEflip(['import', join(dir, 'r500.ckpt'), '--out', model], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /labels: seed42 order, first 500 \(hyper-parameter words = 500\)/);
    assert.deepEqual(JSON.parse(readSafetensorsHeader(model).metadata.labels), [
      ...LRW_WORDS_SEED42,
    ]);

    refPy([
      'make',
      '--words',
      '100',
      '--hparams',
      'none',
      '--clips',
      clips.slice(0, 1).join(','),
      '--out',
      join(dir, 'bare.ckpt'),
      '--ema-out',
      join(dir, 'ebare.safetensors'),
    ]);
    const out = join(dir, 'bare.safetensors');
    const b = await runEflip(['import', join(dir, 'bare.ckpt'), '--out', out], {
      timeoutMs: 120_000,
    });
    assert.equal(b.code, 1);
    const lines = b.stderr.trim().split('\n');
    assert.equal(lines.length, 1, b.stderr);
    assert.match(
      lines[0],
      /no hyper-parameters naming its words; give the class names with --labels seed42\|lrw\|FILE/,
    );
    const ok = await runEflip(
      ['import', join(dir, 'bare.ckpt'), '--out', out, '--labels', 'seed42'],
      { timeoutMs: 120_000 },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      JSON.parse(readSafetensorsHeader(out).metadata.labels),
      LRW_WORDS_SEED42.slice(0, 100),
      '--labels seed42 takes the first N of the order',
    );
  },
);
