#!/usr/bin/env bash
# Build the libtorch addon with node-gyp (scripts/build-native.cjs; libtorch is located by
# scripts/find-libtorch.cjs: LIBTORCH, LIBTORCH_USE_PYTORCH=1, or the system copy).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/build-native.cjs
