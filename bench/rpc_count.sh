#!/bin/bash
# Counts the gRPC round trips libhsm_pkcs11.so makes per operation of each
# p11bench scenario. p11bench runs under valgrind's callgrind, which counts
# calls exactly and dumps them at each p11bench_phase() call (p11bench.cc), so
# the second profile holds the timed run and nothing of setup or teardown.
# The calls of each generated stub method (Stub::PrepareAsyncSign ...) are
# read from it.
# Each scenario runs twice, with LOW and HIGH operations, and the difference
# divided by HIGH-LOW is the count per operation, so the workers' own session
# open and close cancel out.
#
#   bench/rpc_count.sh [--scenarios="rsa2048-sign nss-sign-flow"]
# Needs valgrind (not in deploy/debian-packages.txt: a tool for people).
set -euo pipefail

LOW=20
HIGH=120
SCENARIOS=""
for arg in "$@"; do
  case "$arg" in
    --scenarios=*) SCENARIOS="${arg#*=}" ;;
    *) echo "usage: $0 [--scenarios=\"A B\"]" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "rpc_count: needs valgrind" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
[ -n "$SCENARIOS" ] || SCENARIOS="$("$P11BENCH" --scenario=list | tr '\n' ' ')"
start_hsmd "$WORK/hsmd-data"

# stub_calls SCENARIO OPS: "Method count" lines, the calls of each stub method.
stub_calls() {
  local profile="$WORK/callgrind.$1.$2"
  valgrind --tool=callgrind --callgrind-out-file="$profile" --dump-before=p11bench_phase "$P11BENCH" --module="$MODULE" \
    --token_label="$TOKEN_LABEL" --pin="$USER_PIN" --scenario="$1" --threads=1 --ops="$2" --seconds=600 \
    --objects=$((HIGH + 10)) --fill_threads=1 >"$WORK/valgrind.log" 2>&1 ||
    { cat "$WORK/valgrind.log" >&2; exit 1; }
  callgrind_annotate --tree=caller --threshold=100 "$profile.2" >"$profile.tree" 2>/dev/null
  {
    # The library starts its calls through the stub's PrepareAsync<Method>,
    # whose out-of-line part is PrepareAsync<Method>Raw: in the caller tree,
    # that function's block lists its callers with "(Nx)" calls.
    awk '
      /^$/ { n = 0; next }
      /^ *[0-9,]+ .*\* .*Stub::PrepareAsync[A-Za-z0-9]*Raw\(/ {
        method = $0; sub(/.*Stub::PrepareAsync/, "", method); sub(/Raw\(.*/, "", method)
        for (i = 0; i < n; i++) print method, block[i]
        n = 0; next
      }
      { block[n++] = $0 }' "$profile.tree" |
      sed -n 's/^\([A-Za-z0-9]*\) .*(\([0-9,]*\)x).*/\1 \2/p'
    # A few calls outside the hot path (Initialize, Finalize, a deferred
    # close sent alone) are synchronous: the block of the blocking unary call
    # lists their stub methods.
    awk '
      /^$/ { n = 0; next }
      /^ *[0-9,]+ .*\* .*BlockingUnaryCallImpl/ { for (i = 0; i < n; i++) print block[i]; n = 0; next }
      { block[n++] = $0 }' "$profile.tree" |
      sed -n 's/.*Stub::\([A-Za-z0-9]*\)(.*(\([0-9,]*\)x).*/\1 \2/p'
  } | tr -d , | sort
}

printf '%-22s %8s  %s\n' scenario "RPCs/op" "by method"
for scenario in $SCENARIOS; do
  stub_calls "$scenario" "$LOW" >"$WORK/low"
  stub_calls "$scenario" "$HIGH" >"$WORK/high"
  awk -v s="$scenario" -v span=$((HIGH - LOW)) '
    FNR == NR { low[$1] += $2; next }
    { if (!($1 in high)) order[++n] = $1; high[$1] += $2 }
    END {
      total = 0; detail = ""
      for (i = 1; i <= n; i++) {
        m = order[i]
        per = (high[m] - low[m]) / span
        if (per < 0.05) continue  # setup calls, heartbeats
        total += per; detail = detail sprintf("%s %.2g, ", m, per)
      }
      printf "%-22s %8.2f  %s\n", s, total, substr(detail, 1, length(detail) - 2)
    }' "$WORK/low" "$WORK/high"
done
