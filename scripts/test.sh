#!/usr/bin/env bash
# The project's test command (`npm test`): schema and code checks, then every test file.
# Each static check counts as one test; the last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

passed=0
failed=0
check() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $name"
  fi
}

generated_is_current() {
  buf generate || return 1
  # gen/ holds the protobuf-es code and gen/openapi/ the OpenAPI document (tools/protoc-gen-openapi).
  # A diff or an untracked file under gen/ means the committed output is stale.
  git diff --exit-code --stat -- gen && [ -z "$(git status --porcelain -- gen)" ]
}

wasm_is_current() {
  node scripts/generate-wasm.mjs >/dev/null || return 1
  git diff --exit-code --stat -- src/templates/kernel && [ -z "$(git status --porcelain -- src/templates/kernel)" ]
}

check "buf lint" buf lint
check "buf format" buf format --diff --exit-code
check "gen/ (code and OpenAPI) matches buf generate" generated_is_current
if git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then
  check "buf breaking against the previous commit" buf breaking --against '.git#ref=HEAD~1'
fi
check "WebAssembly kernels match their .wat" wasm_is_current
check "typecheck" tsc --noEmit -p tsconfig.json
check "lint (biome)" biome check .
check "dependency direction and cycles" depcruise src gen packages/client/src --config .dependency-cruiser.cjs

mkdir -p .tmp
rm -f .tmp/vitest-report.json
vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json
vitest_status=$?
counts=$(node -e '
  const fs = require("node:fs");
  try {
    const r = JSON.parse(fs.readFileSync(".tmp/vitest-report.json", "utf8"));
    // A test file that failed to load has no tests in it: count it as one failure.
    const broken = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
    console.log(r.numPassedTests, r.numFailedTests + broken);
  } catch { console.log(0, 1); }
')
read -r vitest_passed vitest_failed <<<"$counts"
# Vitest exits non-zero on errors outside any test too (a test process that died, an unhandled
# rejection); its report then shows the lost tests only as pending. Count that as a failure.
if [ "$vitest_status" -ne 0 ] && [ "$vitest_failed" -eq 0 ]; then
  echo "FAILED: vitest exited with $vitest_status (errors outside the tests; see above)"
  vitest_failed=1
fi
passed=$((passed + vitest_passed))
failed=$((failed + vitest_failed))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
