# shellcheck shell=bash disable=SC2034  # the variables set here are for the sourcing script
# Sourced by run.sh, objects.sh and soak.sh: the binaries, a real hsmd on a temporary
# data folder, and a SoftHSMv2 token in a temporary folder.
#
# Under `bazel test` the binaries come from the runfiles. Run by hand, the
# script builds them and copies them to $WORK/bin first: other people may
# rebuild bazel-bin while a long benchmark runs, and one run must measure one
# set of binaries. BENCH_SKIP_BUILD=1 takes bazel-bin as it is (when another
# bazel command holds the server for a long time).

SOFTHSM_MODULE="${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"

# bench_setup: makes $WORK (removed on exit) and sets P11BENCH, HSMD, MODULE
# and STORE_FIND_BENCH.
bench_setup() {
  WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/bench.XXXXXX")"
  HSMD_PID=""
  trap bench_cleanup EXIT
  if [ -n "${TEST_SRCDIR:-}" ]; then
    local runfiles="$TEST_SRCDIR/${TEST_WORKSPACE:-hsm}"
    P11BENCH="$runfiles/bench/p11bench"
    STORE_FIND_BENCH="$runfiles/bench/store_find_bench"
    HSMD="$runfiles/server/hsmd"
    MODULE="$runfiles/client/libhsm_pkcs11.so"
    return
  fi
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  [ -n "${BENCH_SKIP_BUILD:-}" ] ||
    (cd "$root" && bazel build //bench:p11bench //bench:store_find_bench //server:hsmd //client:libhsm_pkcs11.so) \
    >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; echo "bench: build failed" >&2; exit 1; }
  mkdir -p "$WORK/bin"
  cp "$root/bazel-bin/bench/p11bench" "$root/bazel-bin/bench/store_find_bench" "$root/bazel-bin/server/hsmd" \
    "$root/bazel-bin/client/libhsm_pkcs11.so" "$WORK/bin/"
  P11BENCH="$WORK/bin/p11bench"
  STORE_FIND_BENCH="$WORK/bin/store_find_bench"
  HSMD="$WORK/bin/hsmd"
  MODULE="$WORK/bin/libhsm_pkcs11.so"
  # Built from the working tree, which may hold others' uncommitted changes.
  BENCH_COMMIT="working tree at $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

bench_cleanup() {
  stop_hsmd
  [ -z "${SOCKET_DIR:-}" ] || rm -rf "$SOCKET_DIR"
  if [ -n "${KEEP_WORK:-}" ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}

# start_hsmd DATA_DIR: starts hsmd on a free loopback port and waits until
# it serves. Sets HSMD_PID, HSM_SERVER (exported), TOKEN_LABEL, SO_PIN,
# USER_PIN, and HSMD_START_MS (launch to port file, in milliseconds).
start_hsmd() {
  local data="$1"
  rm -f "$WORK/port"
  # hsmd's admin socket defaults to DATA_DIR/admin.sock, and a unix socket
  # path may not exceed 107 bytes, which a bazel test's TEST_TMPDIR does.
  local flags=()
  local help
  help="$("$HSMD" --helpfull 2>&1 || true)"
  if [[ "$help" == *--admin_socket* ]]; then
    [ -n "${SOCKET_DIR:-}" ] || SOCKET_DIR="$(mktemp -d /tmp/hsmd-bench.XXXXXX)"
    flags+=(--admin_socket="$SOCKET_DIR/admin.sock")
  fi
  local launched
  launched=$(date +%s%N)
  "$HSMD" --listen=127.0.0.1:0 --port_file="$WORK/port" --data_dir="$data" --pin_kdf_iterations=1000 \
    "${flags[@]}" 2>>"$WORK/hsmd.log" &
  HSMD_PID=$!
  # Poll often: the start time is one of the figures.
  for _ in $(seq 6000); do
    [ -s "$WORK/port" ] && break
    kill -0 "$HSMD_PID" 2>/dev/null || break
    sleep 0.01
  done
  [ -s "$WORK/port" ] || { echo "bench: hsmd did not start:" >&2; cat "$WORK/hsmd.log" >&2; exit 1; }
  HSMD_START_MS=$((($(date +%s%N) - launched) / 1000000))
  HSM_SERVER="127.0.0.1:$(cat "$WORK/port")"
  export HSM_SERVER
  TOKEN_LABEL=$(sed -n 's/^label=//p' "$data/dev-token.txt")
  SO_PIN=$(sed -n 's/^so_pin=//p' "$data/dev-token.txt")
  USER_PIN=$(sed -n 's/^user_pin=//p' "$data/dev-token.txt")
}

stop_hsmd() {
  if [ -n "${HSMD_PID:-}" ]; then
    kill "$HSMD_PID" 2>/dev/null || true
    wait "$HSMD_PID" 2>/dev/null || true
    HSMD_PID=""
  fi
}

# hold_sessions COUNT SECONDS: one application (p11bench --hold_sessions)
# that logs in and keeps COUNT sessions open for SECONDS, then closes them
# and finalizes by itself. Returns once they are open; sets HOLD_PID.
hold_sessions() {
  "$P11BENCH" --module="$MODULE" --token_label="$TOKEN_LABEL" --pin="$USER_PIN" --hold_sessions="$1" \
    --seconds="$2" >"$WORK/hold.out" 2>"$WORK/hold.err" &
  HOLD_PID=$!
  for _ in $(seq 600); do
    grep -q holding "$WORK/hold.out" && break
    kill -0 "$HOLD_PID" 2>/dev/null || break
    sleep 0.1
  done
  grep -q holding "$WORK/hold.out" || { cat "$WORK/hold.err" >&2; echo "bench: could not open $1 sessions" >&2; exit 1; }
}

# init_softhsm LABEL SO_PIN USER_PIN: a fresh SoftHSMv2 token in $WORK/softhsm,
# through a private configuration file (SOFTHSM2_CONF, exported).
init_softhsm() {
  [ -f "$SOFTHSM_MODULE" ] || { echo "bench: $SOFTHSM_MODULE missing (apt-get install softhsm2)" >&2; exit 1; }
  mkdir -p "$WORK/softhsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$WORK/softhsm/tokens" >"$WORK/softhsm/softhsm2.conf"
  export SOFTHSM2_CONF="$WORK/softhsm/softhsm2.conf"
  softhsm2-util --init-token --free --label "$1" --so-pin "$2" --pin "$3" >"$WORK/softhsm/init.log" 2>&1 ||
    { cat "$WORK/softhsm/init.log" >&2; echo "bench: softhsm2-util failed" >&2; exit 1; }
}

# json_field NAME LINE: the number after "NAME": in a JSON line.
json_field() {
  printf '%s\n' "$2" | sed -n "s/.*\"$1\": \([-0-9.e]*\).*/\1/p"
}
