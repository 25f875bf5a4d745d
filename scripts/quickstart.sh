#!/usr/bin/env bash
# The README's main job, on the embedded default dataset (Fashion-MNIST from Debian): the paper's
# claim in small. Trains a TRADES target, APE-G and JATP in front of it (cpu presets), attacks each
# full model with adaptive PGD-40, PGD-DLR-40 and BPDA on 200 test images, and writes the HTML report
# (338 s from a fresh folder on the 2-core development machine at load average ~2, 2026-12-01; ~20 min
# when ~9 other jobs shared those cores). Re-running skips finished cells and continues the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/quickstart}
report=$(node packages/jatp/dist/cli/main.js experiment quickstart --scale cpu --dataset fashion-mnist --n 200 --out "$OUT")
# The verdicts (the report's first section) and the quick-start table, up to the masking checks.
sed -n '/^## Verdicts/,/^## Gradient-masking/p' "$OUT/report/report.md" | sed '$d'
echo "report: $report"
