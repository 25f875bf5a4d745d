#!/usr/bin/env bash
# The README's main job on the embedded default dataset (Fashion-MNIST from Debian):
# train a TRADES target with the `cpu` preset, then attack it with adaptive PGD-20 and APGD-CE.
# Re-running continues an unfinished run (--resume) and re-evaluates.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/quickstart}
jatp() { node packages/jatp/dist/cli/main.js "$@"; }

if [ -f "$OUT/trades/config.json" ]; then
  jatp train-target --resume "$OUT/trades"
else
  jatp train-target --preset cpu --recipe trades --dataset fashion-mnist --out "$OUT/trades"
fi
jatp eval --model "$OUT/trades" --dataset fashion-mnist --attacks pgd20,apgd-ce --eps 0.1 --n 1000 \
  --json "$OUT/eval-trades.json"
