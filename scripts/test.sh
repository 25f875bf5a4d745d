#!/usr/bin/env bash
# The project's test command (README): type-check and build, unit tests of both packages, then the
# tfjs-core backend suite against the `torch` backend. Ends by listing every skipped check with
# its reason (scripts/list-skipped.mjs), after the test runner's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."
skips="$(mktemp -d)"
finish() {
  local rc=$?
  node scripts/list-skipped.mjs "$skips" || { [ "$rc" -ne 0 ] || rc=1; }
  rm -rf "$skips"
  exit "$rc"
}
trap finish EXIT
echo "== type-check + build"
npx tsc -b packages/tfjs-backend-torch packages/jatp
npx tsc -p packages/demo-web   # the browser demo is bundled by esbuild, which does not type-check
echo "== unit tests"
# JATP_TEST_FILES / JATP_CORE_SUITE_FILES narrow a run to some files (default: all of them).
if [ -n "${JATP_TEST_FILES:-}" ]; then read -r -a files <<< "$JATP_TEST_FILES"
else mapfile -t files < <(find packages/*/test -name '*.test.ts' | sort); fi
# The runner's default output (spec on a terminal, TAP otherwise), plus a record of the skips.
reporter=tap; [ -t 1 ] && reporter=spec
node --import tsx --test --test-concurrency=1 --test-timeout=600000 \
  --test-reporter="$reporter" --test-reporter-destination=stdout \
  --test-reporter=./scripts/skipped-reporter.mjs --test-reporter-destination="$skips/node-test.jsonl" \
  "${files[@]}"
if [ -f packages/tfjs-backend-torch/test/core_suite.ts ]; then
  echo "== tfjs-core suite on the torch backend"
  CORE_SUITE_SKIPS="$skips/core-suite.jsonl" npx tsx packages/tfjs-backend-torch/test/core_suite.ts --files="${JATP_CORE_SUITE_FILES:-tests}"
fi
