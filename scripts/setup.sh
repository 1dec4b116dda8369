#!/usr/bin/env bash
# Idempotent set-up used by `npm test` and `npm run demo`:
#   1. Debian packages (libtorch, python3-torch/onnx for reference tests, ffmpeg, fonts, chromium for the browser test)
#   2. npm dependencies (npm ci when package-lock.json changed)
#   3. native addon (node-gyp, when native sources or the libtorch choice changed)
#   4. TypeScript (tsc, when sources changed)
# A second run does nothing and takes about a second. `--build-only` skips steps 1-2.
set -euo pipefail
cd "$(dirname "$0")/.."
stamps=.setup-stamps
mkdir -p "$stamps"
say() { echo "[setup] $*" >&2; }

hash_of() { # hash of the named files/dirs (contents and names)
  find "$@" -type f 2>/dev/null | LC_ALL=C sort | xargs -r sha1sum | sha1sum | cut -d' ' -f1
}
fresh() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }

# 1. Debian packages ---------------------------------------------------------------
DEB_PACKAGES=(libtorch-dev libgloo-dev python3-torch python3-onnx python3-omegaconf ffmpeg fonts-dejavu-core chromium)
if [ "${1:-}" != "--build-only" ]; then
  missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # LIBTORCH / LIBTORCH_USE_PYTORCH users bring their own libtorch. libgloo-dev stays: pip's torch
  # ships no gloo headers (scripts/find-libtorch.cjs probes whether the Debian ones fit it).
  if [ ${#missing[@]} -gt 0 ] && { [ -n "${LIBTORCH:-}" ] || [ -n "${LIBTORCH_USE_PYTORCH:-}" ]; }; then
    missing=("${missing[@]/libtorch-dev}"); missing=(${missing[@]+"${missing[@]}"})
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      say "installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
      echo "eflip setup: missing Debian packages: ${missing[*]}" >&2
      echo "Install them with:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
  fi

  # 2. npm dependencies --------------------------------------------------------------
  # only what npm ci installs counts: editing "files", "scripts" or "exports" reinstalls nothing
  h=$({ node -p 'const p = require("./package.json"); JSON.stringify([p.dependencies, p.devDependencies])'; cat package-lock.json; } | sha1sum | cut -d' ' -f1)
  if [ ! -d node_modules ] || ! fresh npm "$h"; then
    say "npm ci"
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2
    echo "$h" > "$stamps/npm"
  fi
fi

# 3. native addon --------------------------------------------------------------------
h=$(hash_of native/*.cc native/*.h native/binding.gyp scripts/find-libtorch.cjs scripts/build-native.sh scripts/build-native.cjs; echo "${LIBTORCH:-}|${LIBTORCH_USE_PYTORCH:-}")
if [ -f native/addon.cc ] && { [ ! -f native/build/Release/eflip_native.node ] || ! fresh native "$h"; }; then
  say "building native addon (libtorch)"
  bash scripts/build-native.sh
  echo "$h" > "$stamps/native"
fi

# 4. TypeScript ----------------------------------------------------------------------
h=$(hash_of src test tsconfig.json package.json)
if [ ! -d dist/src ] || ! fresh tsc "$h"; then
  say "compiling TypeScript"
  node_modules/.bin/tsc -p . >&2
  echo "$h" > "$stamps/tsc"
fi

# 5. web app (`eflip serve`) -----------------------------------------------------------
# package-lock.json: the bundle holds onnxruntime-web and tfjs, so a dependency change re-bundles;
# all of dist/src: the bundled modules import across it (roi → io/printable, data/crop, io/onnx)
h=$(hash_of web scripts/build-web.mjs scripts/web_build.mjs dist/src package-lock.json)
if [ ! -f dist/web/index.html ] || ! fresh web "$h"; then
  say "bundling the web app"
  node scripts/build-web.mjs >&2
  echo "$h" > "$stamps/web"
fi
