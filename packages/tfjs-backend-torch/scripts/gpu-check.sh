#!/usr/bin/env bash
# GPU check for the torch backend, in one go (engine guide §6):
#   1. find a CUDA-enabled PyTorch (LIBTORCH=<site-packages>/torch, or the torch importable by
#      $PYTHON / python3 / /opt/torch/.venv/bin/python),
#   2. build the addon against it into build-cuda/ (scripts/build-native.mjs with LIBTORCH),
#   3. run the nn kernel tests and a subset of the tfjs-core suite with TFJS_TORCH_DEVICE=cuda,
#   4. run the engine benchmark on the GPU (torch with the fused calls vs PyTorch on the same GPU,
#      interleaved pairs; no wasm).
# Output: the logs on stdout, and bench results in ${GPU_CHECK_OUT:-gpu-check-out}/.
# On this project's offline GPU machines: scripts/gpu-pack.sh here, then scripts/gpu-device-run.sh
# there (it carries node, the Node-API headers and node_modules over in .gpu/).
#
# Usage (from anywhere):  packages/tfjs-backend-torch/scripts/gpu-check.sh
# Env: LIBTORCH, PYTHON, NODE (node binary; default `node` on PATH), NODE_HEADERS, GPU_CHECK_OUT,
#      GPU_CHECK_BATCHES (default 32,128,512), GPU_CHECK_TEST_TIMEOUT, GPU_CHECK_BENCH_TIMEOUT,
#      GPU_CHECK_TF32_BENCH=1 (a second benchmark with TF32 allowed on both sides),
#      GPU_CHECK_SKIP_BENCH=1, TFJS_TORCH_TF32=1 (allow TF32: faster, but fails fp32-tight tests).
# Needs: node >= 20 with this repo's node_modules installed (npm ci), g++, a CUDA PyTorch wheel.
set -euo pipefail

pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$pkg/../.." && pwd)"
out="${GPU_CHECK_OUT:-$root/gpu-check-out}"
mkdir -p "$out"
say() { printf '\n[gpu-check] %s\n' "$*"; }
die() { printf '\n[gpu-check] ERROR: %s\n' "$*" >&2; exit 1; }

node_bin="${NODE:-node}"
command -v "$node_bin" >/dev/null 2>&1 || die "node not found (set NODE=/path/to/node; the GPU image may need the node binary carried over)"
"$node_bin" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "node >= 20 required ($("$node_bin" --version))"
[ -d "$root/node_modules/@tensorflow/tfjs-core" ] || die "run npm ci in $root first"
export PATH="$(dirname "$(command -v "$node_bin")"):$PATH"

# 1. A CUDA PyTorch.
py=""
for cand in "${PYTHON:-}" python3 /opt/torch/.venv/bin/python /usr/bin/python3; do
  [ -n "$cand" ] || continue
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import torch' >/dev/null 2>&1; then py="$cand"; break; fi
done
if [ -z "${LIBTORCH:-}" ]; then
  [ -n "$py" ] || die "no python with torch found; set LIBTORCH=<site-packages>/torch or PYTHON"
  LIBTORCH="$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
fi
export LIBTORCH
say "LIBTORCH=$LIBTORCH"
if [ -n "$py" ]; then
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
  export LIBTORCH_CXX11_ABI="${LIBTORCH_CXX11_ABI:-$("$py" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')}"
fi
[ -f "$LIBTORCH/lib/libtorch_cuda.so" ] || die "$LIBTORCH/lib/libtorch_cuda.so missing: this is not a CUDA build of PyTorch"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# 2. Build into build-cuda/ (retry without the allocator-stats file's CUDA headers if those moved).
say "building the addon against $LIBTORCH"
build() { (cd "$pkg" && TT_BUILD_JOBS="${TT_BUILD_JOBS:-$(nproc)}" timeout 300 "$node_bin" scripts/build-native.mjs) 2>&1 | tee -a "$out/build.log"; }
if ! build || [ ! -f "$pkg/build-cuda/tfjs_backend_torch.node" ]; then
  say "build failed; retrying with TT_EXTRA_DEFINES=-DTT_NO_CUDA_STATS (no GPU allocator stats)"
  export TT_EXTRA_DEFINES="-DTT_NO_CUDA_STATS"
  build || true
fi
[ -f "$pkg/build-cuda/tfjs_backend_torch.node" ] || die "build-cuda/tfjs_backend_torch.node was not produced (see $out/build.log)"

export TFJS_TORCH_DEVICE=cuda
# The wheel's own libraries (cuDNN, cuBLAS, ...) are found through libtorch_cuda's RPATH.
(cd "$pkg" && "$node_bin" --import tsx --input-type=module -e "
  const m = await import('./src/index.ts');
  const s = m.torchStatus();
  console.log('torch backend:', JSON.stringify(s));
  if (!s.available || s.device !== 'cuda') { console.error('the addon did not come up on CUDA'); process.exit(1); }
") || die "the CUDA addon does not load or does not select the GPU"

status=0
tests() { # name, files...
  local name="$1"; shift
  say "$name on CUDA"
  (cd "$root" && timeout "${GPU_CHECK_TEST_TIMEOUT:-150}" "$node_bin" --import tsx --test --test-concurrency=1 "$@") > "$out/$name.log" 2>&1 || true
  grep -E '^# (tests|pass|fail)|^not ok' "$out/$name.log" || true
  grep -q '^# fail 0' "$out/$name.log" || { status=1; grep -B2 -A25 '^not ok' "$out/$name.log" | head -80 || true; }
}

# 3. Storage, memory stats and the fallback first: quick, and everything else relies on them.
tests backend-tests packages/tfjs-backend-torch/test/backend.test.ts
# 3b. The fused training/attack kernels (native/ops_fused.cc: training-mode batch norm forward and
#     backward, SGD-momentum/Adam group updates, the L-inf step) on CUDA, before the benchmark uses them.
tests fused-tests packages/tfjs-backend-torch/test/nn_fused.test.ts

# 4. Benchmark: torch on the GPU vs PyTorch on the same GPU (both strict fp32 unless TFJS_TORCH_TF32=1).
if [ "${GPU_CHECK_SKIP_BENCH:-0}" != "1" ]; then
  say "benchmark on CUDA"
  (cd "$pkg" && timeout "${GPU_CHECK_BENCH_TIMEOUT:-200}" "$node_bin" --import tsx bench/engine.ts --no-wasm ${py:+--python "$py"} \
    --batches "${GPU_CHECK_BATCHES:-32,128,512}" --profile --out "$out/bench-results-cuda.json") 2>&1 | tee "$out/bench.log" || status=1
fi

# 4b. Optionally the same with TF32 tensor-core math allowed on both sides.
if [ "${GPU_CHECK_TF32_BENCH:-0}" = "1" ]; then
  say "benchmark on CUDA with TF32 allowed (torch and PyTorch)"
  (cd "$pkg" && TFJS_TORCH_TF32=1 timeout "${GPU_CHECK_BENCH_TIMEOUT:-200}" "$node_bin" --import tsx bench/engine.ts --no-wasm ${py:+--python "$py"} \
    --batches "${GPU_CHECK_BATCHES:-32,128,512}" --out "$out/bench-results-cuda-tf32.json") 2>&1 | tee "$out/bench-tf32.log" | grep -E 'train_step|pgd|forward|over_pytorch' || status=1
fi

# 5. Kernel tests (each compares torch, now on the GPU, with the cpu backend), then tfjs-core's suite.
tests kernel-tests packages/tfjs-backend-torch/test/nn_*.test.ts packages/tfjs-backend-torch/test/core_kernels.test.ts
say "tfjs-core suite on CUDA"
(cd "$root" && timeout "${GPU_CHECK_TEST_TIMEOUT:-150}" "$node_bin" --import tsx packages/tfjs-backend-torch/test/core_suite.ts --files=tests) > "$out/core-suite.log" 2>&1 || status=1
grep -E '^core-suite:|^Failures|^[0-9]+\) ' "$out/core-suite.log" | head -60 || true
tail -3 "$out/core-suite.log" || true

say "done (status $status); logs and figures in $out"
exit $status
