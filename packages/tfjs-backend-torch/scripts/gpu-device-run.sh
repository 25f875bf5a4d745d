#!/usr/bin/env bash
# Entry point on the offline GPU machine (run from the repository root, with .gpu/ carried over:
# see scripts/gpu-pack.sh). Unpacks node and node_modules, then runs scripts/gpu-check.sh with its
# logs and bench JSON written to $OUT (or ./gpu-check-out).
set -uo pipefail
root="$(pwd)"
[ -f "$root/.gpu/node.xz" ] || { echo "gpu-device-run: .gpu/node.xz missing (run gpu-pack.sh here first)" >&2; exit 1; }
t0=$(date +%s)
mkdir -p /tmp/gpu-node/bin
xz -dc "$root/.gpu/node.xz" > /tmp/gpu-node/bin/node && chmod +x /tmp/gpu-node/bin/node
[ -d "$root/node_modules/@tensorflow/tfjs-core" ] || tar -xJf "$root/.gpu/node_modules.tar.xz" -C "$root"
echo "[gpu-device-run] unpacked in $(( $(date +%s) - t0 )) s; node $(/tmp/gpu-node/bin/node --version)"
export PATH="/tmp/gpu-node/bin:$PATH" NODE=/tmp/gpu-node/bin/node NODE_HEADERS="$root/.gpu/napi"
export GPU_CHECK_OUT="${OUT:-$root/gpu-check-out}"
exec bash "$root/packages/tfjs-backend-torch/scripts/gpu-check.sh"
