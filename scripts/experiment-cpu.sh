#!/usr/bin/env bash
# CPU-scale version of the paper's Table 1 (issue 7): a TRADES target on Fashion-MNIST, JATP and
# two baseline pre-processors (APE-G and HGD, trained on oblivious PGD-40 examples) in front of it, each
# full model attacked with adaptive PGD-40 and APGD-CE (gradients through the pre-processor) and
# BPDA. Writes eval JSONs, then a Markdown table + SVG chart into $OUT/report/.
#   OUT=runs/exp-cpu N=500 bash scripts/experiment-cpu.sh
# Re-running skips the steps whose outputs exist (delete a folder to redo it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/exp-cpu}
N=${N:-500}
DATASET=${DATASET:-fashion-mnist}
ATTACKS=${ATTACKS:-pgd40,apgd-ce,bpda}
BASELINES=${BASELINES:-apeg hgd}
jatp() { node packages/jatp/dist/cli/main.js "$@"; }
stamp() { date -u +%H:%M:%S; }

if [ ! -d "$OUT/trades/last" ]; then
  echo "[$(stamp)] training the TRADES target"
  jatp train-target --preset cpu --recipe trades --dataset "$DATASET" --out "$OUT/trades"
fi
for method in jatp $BASELINES; do
  if [ ! -d "$OUT/$method/last" ]; then
    echo "[$(stamp)] training $method"
    jatp train-defense --method "$method" --preset cpu --target "$OUT/trades" --dataset "$DATASET" --out "$OUT/$method"
  fi
done
rows=()
for defense in none jatp $BASELINES; do
  json="$OUT/eval-$defense.json"
  if [ ! -f "$json" ]; then
    echo "[$(stamp)] evaluating $defense"
    pre=()
    [ "$defense" = none ] || pre=(--preprocessor "$OUT/$defense")
    jatp eval --model "$OUT/trades" "${pre[@]}" --dataset "$DATASET" --attacks "$ATTACKS" --n "$N" --json "$json"
  fi
  case "$defense" in none) label=None ;; jatp) label=JATP ;; apeg) label=APE-G ;; hgd) label=HGD ;; nrp) label=NRP ;; *) label=$defense ;; esac
  rows+=("$label=$json")
done
jatp report "${rows[@]}" --out "$OUT/report" --title "TRADES target on $DATASET: full-model accuracy"
echo "[$(stamp)] done"
