#!/usr/bin/env bash
# Device-side driver for scripts/gpu-check.sh: unpacks what scripts/gpu-bundle.sh packed into .gpu/
# (node, modules, dist, shards), builds the addon against python torch, runs the check, and tars
# the results into $FINAL/results.tgz (a device call returns at most 8 files). A CPU rehearsal
# here: LIBTORCH_USE_PYTORCH=0 GPU_CHECK_DEVICE=cpu GPU_BUILD_DIRECT=1 in a copy of the tree.
set -x
T=/tmp/eflip-dev; mkdir -p $T/node
tar xJf .gpu/node.tar.xz -C $T/node && tar xJf .gpu/mods.tar.xz && tar xJf .gpu/dist.tar.xz && tar xJf .gpu/shards.tar.xz -C $T || exit 1
export LIBTORCH_USE_PYTORCH=${LIBTORCH_USE_PYTORCH-1} PATH=$T/node/bin:$PATH npm_config_nodedir=$T/node JOBS=16 PYTHONUNBUFFERED=1
node --version; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc; command -v ffmpeg g++ make python3 nvcc; g++ --version | head -1
set +x
if [ -n "${GPU_BUILD_DIRECT:-}" ] || ! command -v make >/dev/null; then
  echo "building the addon with g++ directly (no make, or GPU_BUILD_DIRECT set)"
  B=native/build/Release; mkdir -p $B
  INC=$(node scripts/find-libtorch.cjs --include); CF=$(node scripts/find-libtorch.cjs --cflags); LIBS=$(node scripts/find-libtorch.cjs --libs)
  NAPI=$(node -p "require('node-addon-api').include_dir")
  echo "cflags: $CF"
  for f in native/*.cc; do
    g++ -c -fPIC -O2 -fexceptions -frtti -Wno-deprecated-declarations $CF -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_DISABLE_CPP_EXCEPTIONS \
      -I$T/node/include/node -I$NAPI $(for i in $INC; do echo -I$i; done) $f -o $B/$(basename $f .cc).o &
  done; wait
  g++ -shared -o $B/eflip_native.node $B/*.o $LIBS && export GPU_CHECK_PREBUILT="g++ without make"
fi
R=$T/results; mkdir -p $R
OUT=$R GPU_CHECK_SHARDS=$T/shards timeout 520 bash scripts/gpu-check.sh; echo "gpu-check exit $?"
cat $R/summary.json; cat $R/steps.log
tail -40 $R/build.log
tar czf $FINAL/results.tgz -C $R . ; ls -la $FINAL
