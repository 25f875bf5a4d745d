#!/usr/bin/env bash
# Kept for its interface (OUT, N, DATASET); the experiment is now `jatp experiment table1 --scale cpu`
# (all six attack columns, NRP included; ATTACKS and BASELINES no longer apply). See docs/experiments.md.
cd "$(dirname "$0")/.." && exec node packages/jatp/dist/cli/main.js experiment table1 --scale cpu --dataset "${DATASET:-fashion-mnist}" --n "${N:-200}" --out "${OUT:-runs/exp-cpu}" "$@"
