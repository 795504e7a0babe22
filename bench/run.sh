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
BIG_FIND_OBJECTS=100000  # and, on our library only, among this many (0: skip)
DESTROY_OBJECTS=1000  # destroy-token-objects prepares this many per round
DESTROY_ROUNDS=3      # and destroys them this many times (1,000 go in about 0.2 s)
THREAD_COUNTS="1 2"
SCENARIOS=""
RESULTS=""
for arg in "$@"; do
  case "$arg" in
    --smoke) SECONDS_PER_RUN=1 FIND_OBJECTS=100 DESTROY_OBJECTS=100 DESTROY_ROUNDS=2 BIG_FIND_OBJECTS=300 ;;
    --big_find_objects=*) BIG_FIND_OBJECTS="${arg#*=}" ;;
    --seconds=*) SECONDS_PER_RUN="${arg#*=}" ;;
    --scenarios=*) SCENARIOS="${arg#*=}" ;;
    --threads=*) THREAD_COUNTS="${arg#*=}" ;;
    --results=*) RESULTS="${arg#*=}" ;;
    *) echo "usage: $0 [--smoke] [--seconds=S] [--scenarios=\"A B\"] [--threads=\"1 2\"] [--big_find_objects=N] [--results=FILE]" >&2; exit 2 ;;
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
  local objects=1000 fill_threads=4 rounds=1
  case "$2" in
    find-by-id) objects=$FIND_OBJECTS ;;
    destroy-token-objects) objects=$DESTROY_OBJECTS rounds=$DESTROY_ROUNDS ;;
  esac
  # SoftHSMv2's file store is not safe for concurrent creation and removal
  # of token objects in one token (softhsm/SoftHSMv2 #573, #757: a destroy
  # now and then fails with CKR_FUNCTION_FAILED): its untimed setup and
  # teardown run on one thread.
  if [ "$1" = "$SOFTHSM_MODULE" ]; then fill_threads=1; fi
  # The time limit only guards against a hang: p11bench stops by itself.
  timeout $((SECONDS_PER_RUN * 3 + 300)) "$P11BENCH" --module="$1" --token_label="$TOKEN_LABEL" \
    --pin="$USER_PIN" --scenario="$2" --threads="$3" --seconds="$SECONDS_PER_RUN" --objects="$objects" \
    --fill_threads="$fill_threads" --rounds="$rounds" --json 2>"$WORK/last.err" || { sed 's/^/    /' "$WORK/last.err" >&2; return 0; }
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

# find-by-id among many objects, on our library only: SoftHSMv2 would take
# hours to store 100,000 objects (its rate falls as its folder fills).
big_find=""
if [[ " $SCENARIOS " == *" find-by-id "* ]] && [ "$BIG_FIND_OBJECTS" -gt 0 ]; then
  echo "bench: find-by-id among $BIG_FIND_OBJECTS certificates (ours only; filling takes a while)" >&2
  big_find="$(timeout 3600 "$P11BENCH" --module="$MODULE" --token_label="$TOKEN_LABEL" --pin="$USER_PIN" \
    --scenario=find-by-id --threads=1 --seconds="$SECONDS_PER_RUN" --objects="$BIG_FIND_OBJECTS" --fill_threads=4 \
    --json 2>"$WORK/last.err")" || { sed 's/^/    /' "$WORK/last.err" >&2; big_find=""; }
  [ -n "$big_find" ] || { echo "FAILED: find-by-id among $BIG_FIND_OBJECTS objects" >&2; failures=$((failures + 1)); }
fi

# result FIELD MODULE SCENARIO THREADS: a figure from the JSON lines.
result() {
  json_field "$1" "$(grep -F "\"module\": \"$2\"" "$WORK/results.jsonl" |
    grep -F "\"scenario\": \"$3\", \"threads\": $4," | head -1)"
}
# target WHAT VALUE OP LIMIT: one line of the targets table.
target() {
  awk -v what="$1" -v v="$2" -v op="$3" -v limit="$4" 'BEGIN {
    if (v == "") { printf "  %-64s %9s  %s\n", what " " op " " limit, "-", "not measured"; exit }
    met = (op == ">=") ? (v + 0 >= limit + 0) : (v + 0 <= limit + 0)
    printf "  %-64s %9.2f  %s\n", what " " op " " limit, v, met ? "met" : "NOT MET"
  }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.4f", a / b }'; }

targets="$WORK/targets.txt"
{
  echo "targets (same run, same machine):"
  for t in 2; do
    target "rsa2048-sign, $t threads: ours/softhsm ops/s" \
      "$(ratio "$(result ops_per_s "$MODULE" rsa2048-sign $t)" "$(result ops_per_s "$SOFTHSM_MODULE" rsa2048-sign $t)")" ">=" 1.5
    target "ecdsa-p256-sign, $t threads: ours/softhsm ops/s" \
      "$(ratio "$(result ops_per_s "$MODULE" ecdsa-p256-sign $t)" "$(result ops_per_s "$SOFTHSM_MODULE" ecdsa-p256-sign $t)")" ">=" 0.5
  done
  for t in $THREAD_COUNTS; do
    target "nss-sign-flow p50 / rsa2048-raw-sign p50 (ours), $t thread(s)" \
      "$(ratio "$(result p50_us "$MODULE" nss-sign-flow "$t")" "$(result p50_us "$MODULE" rsa2048-raw-sign "$t")")" "<=" 1.3
  done
  target "random-32 p50 us (ours), 1 thread" "$(result p50_us "$MODULE" random-32 1)" "<=" 50
  target "find-by-id p50 us (ours) among $FIND_OBJECTS objects, 1 thread" "$(result p50_us "$MODULE" find-by-id 1)" "<=" 150
  target "find-by-id p50 us (ours) among $BIG_FIND_OBJECTS objects, 1 thread" "$(json_field p50_us "$big_find")" "<=" 150
  for scenario in create-token-objects destroy-token-objects; do
    for t in $THREAD_COUNTS; do
      target "$scenario, $t thread(s): ours/softhsm objects/s" \
        "$(ratio "$(result ops_per_s "$MODULE" $scenario "$t")" "$(result ops_per_s "$SOFTHSM_MODULE" $scenario "$t")")" ">=" 20
    done
  done
} >"$targets"

echo
echo "binaries: ${BENCH_COMMIT:-bazel runfiles}; $(nproc) cores; $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "ratio = ours / softhsm ops/s; ${SECONDS_PER_RUN} s per run; find-by-id over $FIND_OBJECTS certificates; destroy-token-objects: $DESTROY_ROUNDS rounds of $DESTROY_OBJECTS"
cat "$table"
echo
[ -z "$big_find" ] || echo "find-by-id among $BIG_FIND_OBJECTS certificates (ours, 1 thread): $(json_field ops_per_s "$big_find") ops/s, p50 $(json_field p50_us "$big_find") us, p99 $(json_field p99_us "$big_find") us"
cat "$targets"
echo "(hsmd's memory with 100,000 objects and 1,000 sessions over 10 minutes: bench/soak.sh)"
[ -n "$big_find" ] && printf '%s\n' "$big_find" >>"$WORK/results.jsonl"
[ -z "$RESULTS" ] || cp "$WORK/results.jsonl" "$RESULTS"
if [ "$failures" -ne 0 ]; then
  echo "bench: $failures run(s) failed; hsmd's log:" >&2
  tail -n 30 "$WORK/hsmd.log" >&2
  exit 1
fi
