#!/usr/bin/env bash
# Builds everything and runs every test, then prints one line "N passed, M failed".
# Extra arguments go to `bazel test` (e.g. --config=asan).
set -uo pipefail
cd "$(dirname "$0")/.."
flags=(--test_output=errors)
if [ "${CI:-}" = "true" ]; then
  flags+=(--curses=no --noshow_progress --color=no)
fi
log=$(mktemp)
bazel test "${flags[@]}" "$@" //... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE)' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the build itself failed before any test ran
fi
echo "$passed passed, $failed failed"
exit "$status"
