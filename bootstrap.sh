#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and run this project, then builds it.
# Idempotent: re-running only does what is still missing. Options:
#   --no-apt      skip system packages (the toolkit then falls back to the slow wasm/cpu backends
#                 if libtorch is absent)
#   --with-pytorch  also install Debian's python3-torch: the tests then check our models and the engine's
#                 fused optimizer / batch-norm kernels against PyTorch itself (CI passes it, see .ci/run)
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  build-essential       # g++ and make: the native addon is compiled here (without it the engine is missing)
  libtorch-dev          # libtorch 1.13 (ATen) headers + libs: the engine's compute library
  libdnnl-dev           # oneDNN 2 headers (the library Debian's libtorch runs on): the engine's Winograd convolutions
  libgloo-dev           # Gloo headers: the engine's c10d process groups (multi-process training) compile against them
  libopenblas0-openmp   # without it Debian's libtorch runs matmul on reference BLAS (~6 GFLOP/s)
  dataset-fashion-mnist # the embedded default dataset (/usr/share/datasets/fashion-mnist)
  chromium              # headless browser for the browser tests (packages/demo-web), driven by playwright-core
)
use_apt=1
for arg in "$@"; do
  case "$arg" in
    --no-apt) use_apt=0 ;;
    --with-pytorch) APT_PACKAGES+=(python3-torch) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "bootstrap.sh: unknown option '$arg' (expected --no-apt, --with-pytorch)" >&2; exit 2 ;;
  esac
done

say() { printf '[bootstrap] %s\n' "$*"; }

if [ "$use_apt" = 1 ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null; then SUDO="sudo"; else
        say "need root (or sudo) to install: ${missing[*]}"; exit 1; fi
    fi
    say "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "Debian packages already present: ${APT_PACKAGES[*]}"
  fi
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  say "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))"; exit 1
fi

say "installing npm dependencies (npm ci)"
npm ci --no-audit --no-fund --loglevel=error

say "building the libtorch engine (native addon)"
npm run --silent build:native
say "compiling TypeScript"
npm run --silent build:ts
say "done. Quick start: see README.md"
