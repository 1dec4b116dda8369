#!/usr/bin/env bash
# Build the libtorch addon with node-gyp. libtorch is located by scripts/find-libtorch.cjs
# (LIBTORCH, LIBTORCH_USE_PYTORCH=1, or the system copy).
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/find-libtorch.cjs --check >&2
args=()
# Build against the machine's Node headers when they are installed (no download needed).
if [ -f /usr/include/node/node_api.h ]; then args+=(--nodedir=/usr); fi
cd native && ../node_modules/.bin/node-gyp rebuild -j "${JOBS:-$(nproc)}" "${args[@]}" >&2
