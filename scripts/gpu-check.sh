#!/usr/bin/env bash
# The CUDA check of issue #12, for a session on a machine with an NVIDIA GPU.
#
#   bash scripts/gpu-check.sh            # results under $OUT (default ./gpu-check-out)
#   PYTHON=/path/to/python3 bash scripts/gpu-check.sh   # the python whose torch has CUDA
#   GPU_CHECK_SHARDS=DIR bash scripts/gpu-check.sh      # train/compare on prepared shards
#
# Needs: node + this checkout's node_modules (node-gyp, node-addon-api, yaml), a built dist/
# (tsc runs when node_modules has it), and a python with a CUDA torch (pip torch 2.x). Data:
# GPU_CHECK_SHARDS names shards from `eflip prepare` (no ffmpeg needed there); without it a
# synthetic corpus is written and prepared here (needs ffmpeg). Steps, each writing to $OUT:
#   1. torch.json        python torch version, CUDA version, GPUs
#   2. build.log         the addon built against that torch (LIBTORCH_USE_PYTORCH=1)
#   3. doctor.json       eflip doctor --json: cuda.built, cuda.available, conv3d cuda:0 vs CPU
#      nccl.json         a one-rank NCCL all-reduce of a CUDA tensor through the engine
#   4. train_cuda.json   short CUDA runs on the shards (fp32, then bf16 + channels-last,
#                        then fp16): each must learn (last epoch's train loss < 0.8 × the first)
#      resume.json       the fp32 CUDA checkpoint resumed on the CPU for one more epoch
#   5. predict_parity.json  the libtorch LipReader (predict --runtime torch) on cuda vs cpu over
#                        the test clips: same top-1 everywhere, max |Δ probability| of the top-5 < 1e-3
#   6. bench_train.json  eflip bench train --device cuda (fp32, bf16, fp16) next to PyTorch eager,
#      bench_train_cl.json  the same with --channels-last
#   summary.json         pass/fail of every step (exit status 0 only when all pass); steps.log
#                        the time each step took
# GPU_CHECK_DEVICE=cpu is a dry run of steps 4 and 5 on the CPU (small sizes; no build, doctor,
# fp16 or bench) that checks this script's own logic on a machine without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-check-out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eflip-gpu-check.XXXXXX")
DEVICE=${GPU_CHECK_DEVICE:-cuda}
DRY=0; [ "$DEVICE" = cpu ] && DRY=1
SYNTH_TRAIN=40; EPOCHS=10; [ $DRY = 1 ] && { SYNTH_TRAIN=10; EPOCHS=6; }
BENCH="--batch ${GPU_CHECK_BENCH_BATCH:-32} --steps ${GPU_CHECK_BENCH_STEPS:-10} --warmup 3 --rounds 1"
EFLIP="node $ROOT/bin/eflip.js"
T0=$SECONDS
declare -A STATUS=()
KEYS="torch build doctor nccl train_fp32 train_bf16_cl train_fp16 resume_cpu predict_parity bench bench_cl"

note() { echo "[gpu-check $((SECONDS - T0))s] $*" >&2; echo "$((SECONDS - T0))s $*" >> "$OUT/steps.log"; }
record() { local v=${2//\"/\'}; STATUS[$1]=$v; note "$1: $v"; }  # no double quotes: summary.json stays JSON
write_summary() {
  {
    echo '{'
    local first=1
    for k in $KEYS; do
      [ $first -eq 1 ] || echo ','
      first=0
      printf '  "%s": "%s"' "$k" "${STATUS[$k]:-not run}"
    done
    echo
    echo '}'
  } > "$OUT/summary.json"
}
trap write_summary EXIT
# every step is bounded: a hang costs that step, not the rest of the check
bounded() { local s=$1; shift; timeout --kill-after=10 "$s" "$@"; }

if [ $DRY = 1 ]; then
  for k in torch build doctor nccl train_fp16 resume_cpu bench bench_cl; do STATUS[$k]="skipped (cpu dry run)"; done
else
# ---- 1. the python torch that has CUDA
if "$PY" - > "$OUT/torch.json" 2>> "$OUT/torch.err" <<'PYEOF'
import json, torch
ok = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if ok else None,
                  "available": ok, "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}))
raise SystemExit(0 if ok else 1)
PYEOF
then record torch pass; else record torch "fail: $PY has no CUDA torch (see torch.json, torch.err)"; exit 1; fi

# ---- 2. the addon against that torch (and the TypeScript build when tsc is installed)
{ command -v g++ make; g++ --version | head -1; nvcc --version | tail -1; } > "$OUT/build.log" 2>&1
if [ -n "${GPU_CHECK_PREBUILT:-}" ]; then
  echo "addon prebuilt by the caller: $GPU_CHECK_PREBUILT" >> "$OUT/build.log"; record build "pass (prebuilt: $GPU_CHECK_PREBUILT)"
elif bounded 400 env LIBTORCH_USE_PYTORCH=1 PYTHON="$PY" bash scripts/build-native.sh >> "$OUT/build.log" 2>&1 &&
   { [ ! -x node_modules/.bin/tsc ] || node_modules/.bin/tsc -p . >> "$OUT/build.log" 2>&1; }; then
  record build pass
else
  record build "fail: see build.log"; exit 1
fi
node scripts/find-libtorch.cjs --json > "$OUT/libtorch.json" 2>&1

# ---- 3. doctor: the build has CUDA, a GPU is visible, cuda:0 computes like the CPU
bounded 120 $EFLIP doctor --json > "$OUT/doctor.json" 2> "$OUT/doctor.err"
if node -e 'const r=require(process.argv[1]); process.exit(r.ok && r.cuda && r.cuda.built && r.cuda.available && r.cuda.check && r.cuda.check.ok ? 0 : 1)' "$OUT/doctor.json"; then
  record doctor pass
else
  record doctor "fail: see doctor.json"
fi
# one-rank NCCL all-reduce through the engine (one GPU cannot hold two NCCL ranks)
if bounded 120 node --input-type=module -e '
  import * as E from "./dist/src/engine/index.js";
  import { writeFileSync } from "node:fs";
  const res = { nccl: E.ProcessGroup.available("nccl") };
  if (res.nccl) {
    const pg = E.ProcessGroup.init({ backend: "nccl", rank: 0, worldSize: 1, masterPort: 29731, timeoutMs: 60000 });
    const t = E.fromTypedArray(new Float32Array([1, 2, 3]), [3]).to("cuda:0");
    pg.allReduce(t, "sum");
    res.allReduce = Array.from(t.to("cpu").dataView());
    pg.dispose();
  }
  writeFileSync(process.argv[1], JSON.stringify(res));
  process.exit(res.nccl && res.allReduce.join() === "1,2,3" ? 0 : 1);' "$OUT/nccl.json" > "$OUT/nccl.log" 2>&1; then
  record nccl pass
else record nccl "fail: see nccl.log, nccl.json"; fi
fi

# ---- 4. short CUDA training runs; each must learn
SHARDS=${GPU_CHECK_SHARDS:-}
if [ -z "$SHARDS" ]; then
  SHARDS=$WORK/shards
  $EFLIP synth --out "$WORK/synth" --words 5 --train $SYNTH_TRAIN --val 10 --test 10 --seed 1 --train-speakers 48 --quiet > /dev/null 2> "$OUT/synth.err" &&
    $EFLIP prepare --lrw "$WORK/synth" --out "$SHARDS" --quiet > /dev/null 2>> "$OUT/synth.err" || { note "synth/prepare failed (see synth.err)"; exit 1; }
fi
learned() { # run dir -> prints {"first":..,"last":..,"learned":bool}; exit 0 when learned
  node -e '
    const fs = require("fs");
    const ep = fs.readFileSync(process.argv[1] + "/metrics.jsonl", "utf8").trim().split("\n").map(JSON.parse).filter((m) => m.kind === "epoch");
    const first = ep[0]?.train_loss, last = ep[ep.length - 1]?.train_loss;
    const ok = ep.length >= 2 && Number.isFinite(last) && last < 0.8 * first;
    console.log(JSON.stringify({ epochs: ep.length, first, last, val_acc: ep[ep.length - 1]?.val_acc, learned: ok }));
    process.exit(ok ? 0 : 1);' "$1"
}
train_run() { # name, extra overrides...
  local name=$1; shift
  local t0=$SECONDS
  if bounded 300 $EFLIP train --config configs/synth.yaml data.root=null data.shards="$SHARDS" run_dir="$WORK/$name" train.epochs=$EPOCHS \
       train.device=$DEVICE train.test_at_end=false early_stopping.enabled=false "$@" > "$OUT/$name.log" 2>&1; then
    local l
    if l=$(learned "$WORK/$name"); then record "$name" pass; else record "$name" "fail: did not learn $l"; fi
    echo "{\"name\":\"$name\",\"overrides\":\"$*\",\"seconds\":$((SECONDS - t0)),\"result\":$l}" >> "$OUT/train_cuda.jsonl"
  else
    record "$name" "fail: see $name.log"
  fi
}
rm -f "$OUT/train_cuda.jsonl"
train_run train_fp32 train.precision=fp32
train_run train_bf16_cl train.precision=bf16 train.channels_last=true
[ $DRY = 1 ] || train_run train_fp16 train.precision=fp16
node -e 'const fs=require("fs"); const l=fs.readFileSync(process.argv[1],"utf8").trim().split("\n").filter(Boolean).map(JSON.parse); fs.writeFileSync(process.argv[2], JSON.stringify(l,null,2))' "$OUT/train_cuda.jsonl" "$OUT/train_cuda.json" 2>/dev/null
grep -h '"loss_scale"' "$WORK/train_fp16/metrics.jsonl" 2>/dev/null | tail -1 > "$OUT/fp16_last_step.json"

# the CUDA checkpoint resumes on the CPU (device-independent checkpoints)
if [ $DRY = 0 ] && [ -f "$WORK/train_fp32/checkpoints/last.ckpt" ]; then
  if bounded 200 $EFLIP train checkpoint="$WORK/train_fp32" train.device=cpu train.epochs=$((EPOCHS + 1)) train.threads=4 > "$OUT/resume.log" 2>&1; then
    node -e 'const fs=require("fs"); const ep=fs.readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse).filter(m=>m.kind==="epoch"); console.log(JSON.stringify({epochs: ep.length, last: ep[ep.length-1]}))' "$WORK/train_fp32/metrics.jsonl" > "$OUT/resume.json"
    record resume_cpu pass
  else record resume_cpu "fail: see resume.log"; fi
fi

# ---- 5. predict parity: the libtorch LipReader on the device vs the CPU
if bounded 120 node scripts/gpu-parity.mjs "$ROOT/assets/demo/model.safetensors" "$SHARDS" "$OUT/predict_parity.json" "$DEVICE" > "$OUT/predict.log" 2>&1; then
  record predict_parity pass
else record predict_parity "fail: see predict.log, predict_parity.json"; fi

# ---- 6. bench train on CUDA next to PyTorch eager (same network, same run)
if [ $DRY = 0 ]; then
  if bounded 240 $EFLIP bench train --device cuda --python "$PY" --json $BENCH > "$OUT/bench_train.json" 2> "$OUT/bench_train.err"; then record bench pass; else record bench "fail: see bench_train.err"; fi
  if bounded 240 $EFLIP bench train --device cuda --python "$PY" --json $BENCH --channels-last > "$OUT/bench_train_cl.json" 2> "$OUT/bench_train_cl.err"; then record bench_cl pass; else record bench_cl "fail: see bench_train_cl.err"; fi
fi

rm -rf "$WORK"
for v in "${STATUS[@]}"; do case $v in pass*|skipped*) ;; *) exit 1 ;; esac; done
exit 0
