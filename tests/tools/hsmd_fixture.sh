# Sourced by the tool tests: starts a real hsmd on a temporary data folder and
# a free loopback port, points the client library at it, and stops it on exit.
# Sets HSMD_PID, HSMD_PORT, HSM_SERVER, MODULE, HSMCTL, TOKEN_LABEL, SO_PIN,
# USER_PIN, SLOT_ID, ADMIN_SOCKET; start_hsmd, stop_hsmd and restart_hsmd
# manage hsmd.
set -euo pipefail

RUNFILES="${TEST_SRCDIR:-$PWD}/${TEST_WORKSPACE:-hsm}"
MODULE="$RUNFILES/client/libhsm_pkcs11.so"
HSMD="$RUNFILES/server/hsmd"
WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/tooltest.XXXXXX")"

# The admin socket's path must fit a unix socket address (107 bytes); Bazel's
# sandbox paths do not, so it lives in a short folder under /tmp.
ADMIN_DIR="$(mktemp -d /tmp/hsmd-admin.XXXXXX)"
ADMIN_SOCKET="$ADMIN_DIR/admin.sock"

HSMCTL="$RUNFILES/server/hsmctl/hsmctl"
# Extra hsmd flags may be set before sourcing this file: HSMD_FLAGS=(...).
HSMD_FLAGS=("${HSMD_FLAGS[@]+"${HSMD_FLAGS[@]}"}")

# start_hsmd LISTEN: starts hsmd on the fixture's data folder and waits for it.
start_hsmd() {
  rm -f "$WORK/port"
  "$HSMD" --listen="$1" --port_file="$WORK/port" --data_dir="$WORK/data" --admin_socket="$ADMIN_SOCKET" \
    --pin_kdf_iterations=1000 "${HSMD_FLAGS[@]+"${HSMD_FLAGS[@]}"}" 2>>"$WORK/hsmd.log" &
  HSMD_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || { echo "hsmd did not start:"; cat "$WORK/hsmd.log"; exit 1; }
}
# stop_hsmd: SIGTERM, and wait for it to exit.
stop_hsmd() { kill "$HSMD_PID" 2>/dev/null; wait "$HSMD_PID" 2>/dev/null || true; }
# restart_hsmd: the same data folder and port.
restart_hsmd() { stop_hsmd; start_hsmd "127.0.0.1:$HSMD_PORT"; }

start_hsmd 127.0.0.1:0
trap 'stop_hsmd; rm -rf "$ADMIN_DIR"' EXIT
HSMD_PORT=$(cat "$WORK/port")
export HSM_SERVER="127.0.0.1:$HSMD_PORT"
TOKEN_LABEL=$(sed -n 's/^label=//p' "$WORK/data/dev-token.txt")
SO_PIN=$(sed -n 's/^so_pin=//p' "$WORK/data/dev-token.txt")
USER_PIN=$(sed -n 's/^user_pin=//p' "$WORK/data/dev-token.txt")
SLOT_ID=$(sed -n 's/^slot_id=//p' "$WORK/data/dev-token.txt")

# step NAME COMMAND...: runs a step; on failure names it, shows its output, stops.
STEP_OUTPUT="$WORK/step.out"
step() {
  local name="$1"
  shift
  if "$@" >"$STEP_OUTPUT" 2>&1; then
    echo "ok: $name"
  else
    echo "FAILED step: $name"
    echo "--- command: $*"
    cat "$STEP_OUTPUT"
    echo "--- hsmd log:"
    cat "$WORK/hsmd.log"
    exit 1
  fi
}

# expect TEXT: the last step's output contains TEXT.
expect() {
  if ! grep -qF -- "$1" "$STEP_OUTPUT"; then
    echo "FAILED: expected '$1' in the output of the last step:"
    cat "$STEP_OUTPUT"
    exit 1
  fi
}
