#!/bin/bash
# The object-store benchmark: one hsmd token filled with 100,000 certificate
# objects. Reports
#   - the fill rate (C_CreateObject from several client threads),
#   - hsmd's start time with those objects (launch until the port file),
#   - hsmd's memory (VmRSS) idle and with 1,000 open sessions,
#   - the client-side latency of a find by CKA_ID (p11bench find-by-id),
#   - the server-side latency of the same find, from store_find_bench, which
#     links the object store directly (its own LMDB, filled the same way).
#
#   bench/objects.sh [--objects=100000] [--fill_threads=4] [--sessions=1000] [--seconds=5]
set -euo pipefail

OBJECTS=100000
FILL_THREADS=4
SESSIONS=1000
SECONDS_PER_RUN=5
for arg in "$@"; do
  case "$arg" in
    --objects=*) OBJECTS="${arg#*=}" ;;
    --fill_threads=*) FILL_THREADS="${arg#*=}" ;;
    --sessions=*) SESSIONS="${arg#*=}" ;;
    --seconds=*) SECONDS_PER_RUN="${arg#*=}" ;;
    *) echo "usage: $0 [--objects=N] [--fill_threads=N] [--sessions=N] [--seconds=S]" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup
DATA="$WORK/hsmd-data"

# "VmRSS MiB (anonymous MiB)": LMDB's pages are a file mapping, so VmRSS
# grows with the pages read (RssFile) while the heap is RssAnon.
rss() {
  awk '/^VmRSS:/ {v = $2} /^RssAnon:/ {a = $2} END {printf "%.1f MiB (anonymous %.1f MiB)", v / 1024, a / 1024}' \
    "/proc/$HSMD_PID/status"
}

find_by_id() {  # THREADS: the JSON line of a find-by-id run (fills the token if needed)
  "$P11BENCH" --module="$MODULE" --token_label="$TOKEN_LABEL" --pin="$USER_PIN" --scenario=find-by-id \
    --objects="$OBJECTS" --fill_threads="$FILL_THREADS" --threads="$1" --seconds="$SECONDS_PER_RUN" --json
}

report() { printf '%-52s %s\n' "$1" "$2"; }

start_hsmd "$DATA"
empty_start_ms=$HSMD_START_MS
empty_rss=$(rss)

echo "objects: filling the token with $OBJECTS certificates ($FILL_THREADS threads)..." >&2
fill_json="$(find_by_id 1)"
fill_rss=$(rss)
fill_rate="$(json_field fill_per_s "$fill_json")"
fill_seconds="$(json_field fill_seconds "$fill_json")"

# Restarts: the start time with the objects there (median of three).
starts=()
for _ in 1 2 3; do
  stop_hsmd
  start_hsmd "$DATA"
  starts+=("$HSMD_START_MS")
done
start_ms=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 2p)
sleep 1
idle_rss=$(rss)

# Memory with SESSIONS sessions open (one application, logged in).
hold_sessions "$SESSIONS" 3
sessions_rss=$(rss)
# p11bench closes them and finalizes by itself.
wait "$HOLD_PID" || { cat "$WORK/hold.err" >&2; echo "objects: holding sessions failed" >&2; exit 1; }

# Client-side find latency after the restart (the objects are there now).
find1="$(find_by_id 1)"
find2="$(find_by_id 2)"
after_find_rss=$(rss)
stop_hsmd
data_mib=$(($(du -sk "$DATA" | cut -f1) / 1024))

echo "objects: server-side search latency (store_find_bench, its own LMDB of $OBJECTS objects)..." >&2
store_out="$("$STORE_FIND_BENCH" --objects="$OBJECTS")"
store_json="$(printf '%s\n' "$store_out" | grep '^{')"

echo
echo "binaries: ${BENCH_COMMIT:-bazel runfiles}; $(nproc) cores; $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
report "objects on the token" "$OBJECTS (certificates, ~1 KiB each; LMDB ${data_mib} MiB)"
report "fill: C_CreateObject, $FILL_THREADS client threads" "$fill_rate objects/s ($fill_seconds s)"
report "hsmd start, empty data folder (first start)" "$empty_start_ms ms"
report "hsmd start with the objects (median of 3)" "${start_ms} ms (${starts[*]})"
report "hsmd VmRSS: empty, first start" "$empty_rss"
report "hsmd VmRSS: right after the fill" "$fill_rss"
report "hsmd VmRSS: restarted with the objects, idle" "$idle_rss"
report "hsmd VmRSS: with $SESSIONS open sessions" "$sessions_rss"
report "hsmd VmRSS: after the find runs" "$after_find_rss"
report "find by CKA_ID, client side, 1 thread: p50/p99 us" \
  "$(json_field p50_us "$find1")/$(json_field p99_us "$find1") ($(json_field ops_per_s "$find1") finds/s)"
report "find by CKA_ID, client side, 2 threads: p50/p99 us" \
  "$(json_field p50_us "$find2")/$(json_field p99_us "$find2") ($(json_field ops_per_s "$find2") finds/s)"
report "ObjectStore::Find by CKA_ID, in process: p50/p99 us" \
  "$(json_field find_by_id_p50_us "$store_json")/$(json_field find_by_id_p99_us "$store_json")"
report "ObjectStore::Find by class alone (all objects)" "$(json_field find_by_class_p50_us "$store_json") us"
report "ObjectStore::Count (per create, with a quota)" "$(json_field count_p50_us "$store_json") us"
report "ObjectStore::Create, in process, one txn each" "$(json_field fill_per_s "$store_json") objects/s"
echo
echo "JSON: fill $fill_json"
echo "JSON: find1 $find1"
echo "JSON: find2 $find2"
echo "JSON: store $store_json"
