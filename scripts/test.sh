#!/usr/bin/env bash
# The project's test command (README): type-check and build, unit tests of both packages, then the
# tfjs-core backend suite against the `torch` backend.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== type-check + build"
npx tsc -b packages/tfjs-backend-torch packages/jatp
npx tsc -p packages/demo-web   # the browser demo is bundled by esbuild, which does not type-check
echo "== unit tests"
mapfile -t files < <(find packages/*/test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
if [ -f packages/tfjs-backend-torch/test/core_suite.ts ]; then
  echo "== tfjs-core suite on the torch backend"
  npx tsx packages/tfjs-backend-torch/test/core_suite.ts --files=tests
fi
