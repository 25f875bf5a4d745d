#!/usr/bin/env bash
# Packs what an offline GPU machine lacks to run scripts/gpu-check.sh into <repo>/.gpu/ (ignored
# by git): the node binary (xz), the four Node-API headers, and a trimmed node_modules (no
# TypeScript compiler, no browser bundles or source maps, none of the tfjs packages the engine does
# not import). About 35 MB, under the device tool's 64 MiB working-tree limit.
# On the GPU machine, scripts/gpu-device-run.sh unpacks it and runs gpu-check.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
dst="$root/.gpu"
mkdir -p "$dst/napi"
node_bin="$(readlink -f "$(command -v node)")"
[ -d "$root/node_modules/@tensorflow/tfjs-core" ] || { echo "gpu-pack: run npm ci in $root first" >&2; exit 1; }
hdr=""
for c in "${NODE_HEADERS:-}" /usr/include/node "$(dirname "$node_bin")/../include/node"; do
  [ -n "$c" ] && [ -f "$c/node_api.h" ] && { hdr="$c"; break; }
done
[ -n "$hdr" ] || { echo "gpu-pack: node_api.h not found (set NODE_HEADERS)" >&2; exit 1; }
cp "$hdr"/node_api.h "$hdr"/node_api_types.h "$hdr"/js_native_api.h "$hdr"/js_native_api_types.h "$dst/napi/"
if [ ! -f "$dst/node.xz" ] || [ "$node_bin" -nt "$dst/node.xz" ]; then
  echo "gpu-pack: compressing $node_bin ($(node --version))"
  xz -9 -T0 -c "$node_bin" > "$dst/node.xz.tmp" && mv "$dst/node.xz.tmp" "$dst/node.xz"
fi
echo "gpu-pack: packing node_modules"
(cd "$root" && tar -cf - --exclude='*.map' --exclude='*.min.js' --exclude='*.es2017.js' --exclude='*.fesm.js' \
  --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/core-js' \
  --exclude='node_modules/@tensorflow/tfjs' --exclude='node_modules/@tensorflow/tfjs-backend-webgl' \
  --exclude='node_modules/@tensorflow/tfjs-converter' --exclude='node_modules/@tensorflow/tfjs-data' \
  --exclude='node_modules/@tensorflow/tfjs-layers' --exclude='node_modules/@tensorflow/*/dist/miniprogram' \
  node_modules | xz -6 -T0 > "$dst/node_modules.tar.xz.tmp") && mv "$dst/node_modules.tar.xz.tmp" "$dst/node_modules.tar.xz"
du -sh "$dst"/* | sed 's/^/gpu-pack: /'
