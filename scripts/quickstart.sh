#!/usr/bin/env bash
# The README's main job, on the embedded default dataset (Fashion-MNIST from Debian): the paper's
# claim in small. Trains a TRADES target, APE-G and JATP in front of it (cpu presets), attacks each
# full model with adaptive PGD-40, PGD-DLR-40 and BPDA on 200 test images, and writes the HTML report
# (its cells took ~20 min on the 2 shared, heavily loaded development cores, load average ~15; not yet
# timed on a quiet machine). Re-running skips finished cells and continues the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/quickstart}
report=$(node packages/jatp/dist/cli/main.js experiment quickstart --scale cpu --dataset fashion-mnist --n 200 --out "$OUT")
cat "$OUT/report/report.md" | sed -n '/^## Quick start/,/^## Commands/p' | sed '$d'
echo "report: $report"
