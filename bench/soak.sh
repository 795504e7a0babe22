#!/bin/bash
# The soak run: hsmd with 100,000 token objects and 1,000 open sessions under
# constant load for 10 minutes, its memory sampled every 30 seconds. Reports
# the samples and whether the heap grew.
#
#   bench/soak.sh [--objects=100000] [--sessions=1000] [--seconds=600] [--sample=30] [--threads=2]
#   bench/soak.sh --smoke    # 200 objects, 20 sessions, 20 s: CI keeps it working
#
# The load is a cycle of p11bench runs of --sample seconds each (one new
# application per run, so C_Initialize / C_Finalize are part of it):
# nss-sign-flow, find-by-id among the objects, ecdsa-p256-sign, random-32.
# VmRSS includes LMDB's pages mapped from the file (the kernel may drop
# them); the heap is RssAnon, which is what must not grow. Samples taken in
# the first 20 % of the run are warm-up and not judged. Exits 1 if the heap
# grew by more than 10 % and 4 MiB between the end of the warm-up and the end.
set -euo pipefail

OBJECTS=100000
SESSIONS=1000
DURATION=600
SAMPLE=30
THREADS=2
for arg in "$@"; do
  case "$arg" in
    --smoke) OBJECTS=200 SESSIONS=20 DURATION=20 SAMPLE=4 ;;
    --objects=*) OBJECTS="${arg#*=}" ;;
    --sessions=*) SESSIONS="${arg#*=}" ;;
    --seconds=*) DURATION="${arg#*=}" ;;
    --sample=*) SAMPLE="${arg#*=}" ;;
    --threads=*) THREADS="${arg#*=}" ;;
    *) echo "usage: $0 [--smoke] [--objects=N] [--sessions=N] [--seconds=S] [--sample=S] [--threads=T]" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
start_hsmd "$WORK/hsmd-data"

bench() {  # SCENARIO SECONDS [FLAGS...]: one p11bench run, its JSON line
  local scenario="$1" seconds="$2"
  shift 2
  "$P11BENCH" --module="$MODULE" --token_label="$TOKEN_LABEL" --pin="$USER_PIN" --scenario="$scenario" \
    --threads="$THREADS" --seconds="$seconds" --objects="$OBJECTS" --json "$@" 2>>"$WORK/p11bench.err" | grep '^{'
}
kib() { awk -v k="$1" '$1 == k ":" {print $2}' "/proc/$HSMD_PID/status"; }

echo "soak: filling the token with $OBJECTS certificates..." >&2
fill="$(bench find-by-id 1 --fill_threads=4)" || { cat "$WORK/p11bench.err" >&2; exit 1; }
echo "soak: fill $(json_field fill_per_s "$fill") objects/s" >&2

hold_sessions "$SESSIONS" $((DURATION + 4 * SAMPLE + 60))

: >"$WORK/samples.txt"
sample() {  # ELAPSED SCENARIO OPS: one line, memory in KiB
  echo "$1 $(kib VmRSS) $(kib RssAnon) $(kib Threads) $(find "/proc/$HSMD_PID/fd" -mindepth 1 | wc -l) $2 $3" \
    >>"$WORK/samples.txt"
}
sample 0 start -
scenarios=(nss-sign-flow find-by-id ecdsa-p256-sign random-32)
started=$(date +%s)
warmup_anon=""
i=0
while [ $(($(date +%s) - started)) -lt "$DURATION" ]; do
  scenario=${scenarios[$((i % ${#scenarios[@]}))]}
  line="$(bench "$scenario" "$SAMPLE")" || { cat "$WORK/p11bench.err" >&2; echo "soak: $scenario failed" >&2; exit 1; }
  elapsed=$(($(date +%s) - started))
  sample "$elapsed" "$scenario" "$(json_field ops_per_s "$line")"
  if [ -z "$warmup_anon" ] && [ "$elapsed" -ge $((DURATION / 5)) ]; then warmup_anon=$(kib RssAnon); fi
  i=$((i + 1))
done
end_anon=$(kib RssAnon)
kill "$HOLD_PID" 2>/dev/null || true
wait "$HOLD_PID" 2>/dev/null || true

echo
echo "binaries: ${BENCH_COMMIT:-bazel runfiles}; $(nproc) cores; $OBJECTS objects, $SESSIONS sessions held, $THREADS load threads"
awk 'BEGIN {printf "%9s %10s %12s %8s %5s  %-16s %10s\n", "elapsed_s", "VmRSS_MiB", "RssAnon_MiB", "threads",
                   "fds", "scenario", "ops_per_s"}
     {printf "%9s %10.1f %12.1f %8s %5s  %-16s %10s\n", $1, $2 / 1024, $3 / 1024, $4, $5, $6, $7}' "$WORK/samples.txt"
[ -n "$warmup_anon" ] || warmup_anon=$end_anon
growth=$((end_anon - warmup_anon))
echo "heap (RssAnon) after warm-up: $((warmup_anon / 1024)) MiB; at the end: $((end_anon / 1024)) MiB; growth: ${growth} KiB"
# Under AddressSanitizer the heap holds freed memory in quarantine (up to
# 256 MiB): its growth says nothing then.
if [[ "${LD_PRELOAD:-}" == *libasan* ]] || ldd "$HSMD" 2>/dev/null | grep -q libasan; then
  echo "soak: hsmd is built with AddressSanitizer: heap growth not judged"
  exit 0
fi
if [ "$growth" -gt 4096 ] && [ "$growth" -gt $((warmup_anon / 10)) ]; then
  echo "soak: the heap grew" >&2
  exit 1
fi
echo "soak: no heap growth"
