#!/bin/bash
# Runs every p11bench scenario at 1 and 2 threads against libhsm_pkcs11.so
# (a real hsmd on a temporary data folder) and against SoftHSMv2 (a token in
# a temporary folder, same label and PINs), and prints a comparison table.
#
#   bench/run.sh                 # a few seconds per scenario; docs/performance.md
#   bench/run.sh --smoke         # about one second each, small object counts: CI
#   bench/run.sh --seconds=10 --scenarios="rsa2048-sign nss-sign-flow" --threads="1 2 4"
#   bench/run.sh --results=FILE  # also keep every JSON line
#
# Exits non-zero if any scenario fails on either module; speed is never judged.
set -euo pipefail

SECONDS_PER_RUN=5
FIND_OBJECTS=1000     # find-by-id searches among this many certificates
DESTROY_OBJECTS=1000  # destroy-token-objects prepares this many
THREAD_COUNTS="1 2"
SCENARIOS=""
RESULTS=""
for arg in "$@"; do
  case "$arg" in
    --smoke) SECONDS_PER_RUN=1 FIND_OBJECTS=100 DESTROY_OBJECTS=100 ;;
    --seconds=*) SECONDS_PER_RUN="${arg#*=}" ;;
    --scenarios=*) SCENARIOS="${arg#*=}" ;;
    --threads=*) THREAD_COUNTS="${arg#*=}" ;;
    --results=*) RESULTS="${arg#*=}" ;;
    *) echo "usage: $0 [--smoke] [--seconds=S] [--scenarios=\"A B\"] [--threads=\"1 2\"] [--results=FILE]" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
[ -n "$SCENARIOS" ] || SCENARIOS="$("$P11BENCH" --scenario=list | tr '\n' ' ')"

start_hsmd "$WORK/hsmd-data"
init_softhsm "$TOKEN_LABEL" "$SO_PIN" "$USER_PIN"

# bench MODULE SCENARIO THREADS: one p11bench run; prints its JSON line, or
# nothing (and the error on stderr) if it failed.
bench() {
  local objects=1000
  case "$2" in
    find-by-id) objects=$FIND_OBJECTS ;;
    destroy-token-objects) objects=$DESTROY_OBJECTS ;;
  esac
  # The time limit only guards against a hang: p11bench stops by itself.
  timeout $((SECONDS_PER_RUN * 3 + 300)) "$P11BENCH" --module="$1" --token_label="$TOKEN_LABEL" \
    --pin="$USER_PIN" --scenario="$2" --threads="$3" --seconds="$SECONDS_PER_RUN" --objects="$objects" \
    --json 2>"$WORK/last.err" || { sed 's/^/    /' "$WORK/last.err" >&2; return 0; }
}

failures=0
: >"$WORK/results.jsonl"
table="$WORK/table.txt"
printf '%-22s %7s %12s %12s %7s %20s\n' scenario threads "ours ops/s" "softhsm ops/s" ratio "p50 ours/softhsm us" >"$table"
for scenario in $SCENARIOS; do
  for threads in $THREAD_COUNTS; do
    echo "bench: $scenario, $threads thread(s)" >&2
    ours="$(bench "$MODULE" "$scenario" "$threads")"
    theirs="$(bench "$SOFTHSM_MODULE" "$scenario" "$threads")"
    [ -n "$ours" ] || { echo "FAILED: $scenario at $threads thread(s) on libhsm_pkcs11.so" >&2; failures=$((failures + 1)); }
    [ -n "$theirs" ] || { echo "FAILED: $scenario at $threads thread(s) on SoftHSMv2" >&2; failures=$((failures + 1)); }
    printf '%s\n' "$ours" "$theirs" | sed '/^$/d' >>"$WORK/results.jsonl"
    awk -v s="$scenario" -v t="$threads" \
      -v a="$(json_field ops_per_s "$ours")" -v b="$(json_field ops_per_s "$theirs")" \
      -v pa="$(json_field p50_us "$ours")" -v pb="$(json_field p50_us "$theirs")" 'BEGIN {
        ratio = (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "-"
        printf "%-22s %7s %12s %12s %7s %20s\n", s, t, a == "" ? "FAILED" : a, b == "" ? "FAILED" : b, ratio,
               (pa == "" ? "-" : pa) "/" (pb == "" ? "-" : pb)
      }' >>"$table"
  done
done

echo
echo "binaries: ${BENCH_COMMIT:-bazel runfiles}; $(nproc) cores; $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "ratio = ours / softhsm ops/s; ${SECONDS_PER_RUN} s per run; find-by-id over $FIND_OBJECTS certificates"
cat "$table"
[ -z "$RESULTS" ] || cp "$WORK/results.jsonl" "$RESULTS"
if [ "$failures" -ne 0 ]; then
  echo "bench: $failures run(s) failed; hsmd's log:" >&2
  tail -n 30 "$WORK/hsmd.log" >&2
  exit 1
fi
