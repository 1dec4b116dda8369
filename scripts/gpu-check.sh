#!/usr/bin/env bash
# The CUDA check of issue #12, for the first session on a machine with an NVIDIA GPU.
# NOT RUN YET: written and syntax-checked on a CPU-only machine; no part has run on a GPU.
#
#   bash scripts/gpu-check.sh            # results under $OUT (default ./gpu-check-out)
#   PYTHON=/path/to/python3 bash scripts/gpu-check.sh   # the python whose torch has CUDA
#
# Needs: node + this checkout's node_modules (node-gyp, node-addon-api, typescript, yaml, ...),
# ffmpeg, and a python with a CUDA torch (pip torch 2.x). Steps, each writing JSON to $OUT:
#   1. torch.json        python torch version, CUDA version, GPUs
#   2. build.log         the addon built against that torch (LIBTORCH_USE_PYTORCH=1), then tsc
#   3. doctor.json       eflip doctor --json: cuda.built, cuda.available, conv3d cuda:0 vs CPU
#   4. train_cuda.json   a short CUDA run on a synthetic corpus (fp32, then bf16 + channels-last,
#                        then fp16): each must learn (last epoch's train loss < 0.8 × the first)
#      resume.json       the fp32 CUDA checkpoint resumed on the CPU for one more epoch
#   5. bench_train.json  eflip bench train --device cuda (fp32, bf16, fp16) next to PyTorch eager,
#      bench_train_cl.json  the same with --channels-last
#   6. predict_parity.json  predict --runtime torch on cuda vs cpu over the test clips:
#                        same top-1 everywhere, max |Δ probability| of the top-5 < 1e-3
#   summary.json         pass/fail of every step (exit status 0 only when all pass)
# GPU_CHECK_DEVICE=cpu is a dry run of steps 4 and 6 on the CPU (small sizes; no build, doctor,
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
SYNTH_TRAIN=40; EPOCHS=8; [ $DRY = 1 ] && { SYNTH_TRAIN=10; EPOCHS=3; }
EFLIP="node $ROOT/bin/eflip.js"
declare -A STATUS=()

note() { echo "[gpu-check] $*" >&2; }
record() { local v=${2//\"/\'}; STATUS[$1]=$v; note "$1: $v"; }  # no double quotes: summary.json stays JSON
write_summary() {
  {
    echo '{'
    local first=1
    for k in torch build doctor train_fp32 train_bf16_cl train_fp16 resume_cpu bench bench_cl predict_parity; do
      [ $first -eq 1 ] || echo ','
      first=0
      printf '  "%s": "%s"' "$k" "${STATUS[$k]:-not run}"
    done
    echo
    echo '}'
  } > "$OUT/summary.json"
}
trap write_summary EXIT

if [ $DRY = 1 ]; then
  for k in torch build doctor train_fp16 resume_cpu bench bench_cl; do STATUS[$k]="skipped (cpu dry run)"; done
else
# ---- 1. the python torch that has CUDA
if "$PY" - > "$OUT/torch.json" 2>> "$OUT/torch.err" <<'EOF'
import json, torch
ok = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if ok else None,
                  "available": ok, "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}))
raise SystemExit(0 if ok else 1)
EOF
then record torch pass; else record torch "fail: $PY has no CUDA torch (see $OUT/torch.json, torch.err)"; exit 1; fi

# ---- 2. the addon against that torch, and the TypeScript build
if LIBTORCH_USE_PYTORCH=1 PYTHON="$PY" bash scripts/build-native.sh > "$OUT/build.log" 2>&1 && node_modules/.bin/tsc -p . >> "$OUT/build.log" 2>&1; then
  record build pass
else
  record build "fail: see build.log"; exit 1
fi

# ---- 3. doctor: the build has CUDA, a GPU is visible, cuda:0 computes like the CPU
$EFLIP doctor --json > "$OUT/doctor.json" 2> "$OUT/doctor.err"
if node -e 'const r=require(process.argv[1]); process.exit(r.ok && r.cuda && r.cuda.built && r.cuda.available && r.cuda.check && r.cuda.check.ok ? 0 : 1)' "$OUT/doctor.json"; then
  record doctor pass
else
  record doctor "fail: see doctor.json"; exit 1
fi
fi

# ---- 4. short CUDA training runs on a synthetic corpus; each must learn
$EFLIP synth --out "$WORK/synth" --words 5 --train $SYNTH_TRAIN --val 10 --test 10 --seed 1 --train-speakers 48 --quiet > /dev/null 2> "$OUT/synth.err" || { note "synth failed (see synth.err)"; exit 1; }
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
  if $EFLIP train --config configs/synth.yaml data.root="$WORK/synth" data.words=null run_dir="$WORK/$name" train.epochs=$EPOCHS \
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
  if $EFLIP train checkpoint="$WORK/train_fp32" train.device=cpu train.epochs=$((EPOCHS + 1)) train.threads=4 > "$OUT/resume.log" 2>&1; then
    node -e 'const fs=require("fs"); const ep=fs.readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse).filter(m=>m.kind==="epoch"); console.log(JSON.stringify({epochs: ep.length, last: ep[ep.length-1]}))' "$WORK/train_fp32/metrics.jsonl" > "$OUT/resume.json"
    record resume_cpu pass
  else record resume_cpu "fail: see resume.log"; fi
fi

# ---- 5. bench train on CUDA next to PyTorch eager (same network, same run)
if [ $DRY = 1 ]; then :; elif $EFLIP bench train --device cuda --python "$PY" --json --batch 32 --steps 20 --warmup 5 --rounds 2 > "$OUT/bench_train.json" 2> "$OUT/bench_train.err"; then record bench pass; else record bench "fail: see bench_train.err"; fi
if [ $DRY = 1 ]; then :; elif $EFLIP bench train --device cuda --python "$PY" --json --batch 32 --steps 20 --warmup 5 --rounds 2 --channels-last > "$OUT/bench_train_cl.json" 2> "$OUT/bench_train_cl.err"; then record bench_cl pass; else record bench_cl "fail: see bench_train_cl.err"; fi

# ---- 6. predict parity, libtorch on CUDA vs CPU
mapfile -t CLIPS < <(find "$WORK/synth" -path '*/test/*.mp4' | sort)
MODEL=$ROOT/assets/demo/model.safetensors
if $EFLIP predict --checkpoint "$MODEL" --runtime torch --device cpu --json --top 5 "${CLIPS[@]}" > "$WORK/pred_cpu.json" 2> "$OUT/predict.err" &&
   $EFLIP predict --checkpoint "$MODEL" --runtime torch --device "${DEVICE%%:*}" --json --top 5 "${CLIPS[@]}" > "$WORK/pred_cuda.json" 2>> "$OUT/predict.err"; then
  if node -e '
    const fs = require("fs");
    const [a, b] = [process.argv[1], process.argv[2]].map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
    let same = 0, worst = 0;
    a.results.forEach((r, i) => {
      const s = b.results[i];
      if (r.top[0].label === s.top[0].label) same++;
      for (const e of r.top) { const o = s.top.find((x) => x.label === e.label); worst = Math.max(worst, o ? Math.abs(o.probability - e.probability) : 1); }
    });
    const ok = same === a.results.length && worst < 1e-3;
    fs.writeFileSync(process.argv[3], JSON.stringify({ clips: a.results.length, devices: [a.device, b.device], sameTop1: same, maxAbsProbDiff: worst, ok }, null, 2));
    process.exit(ok ? 0 : 1);' "$WORK/pred_cpu.json" "$WORK/pred_cuda.json" "$OUT/predict_parity.json"; then
    record predict_parity pass
  else record predict_parity "fail: see predict_parity.json"; fi
else
  record predict_parity "fail: see predict.err"
fi

rm -rf "$WORK"
for v in "${STATUS[@]}"; do [ "$v" = pass ] || exit 1; done
exit 0
