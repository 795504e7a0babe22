# Sourced by the tool tests: starts a real hsmd on a temporary data folder and
# a free loopback port, points the client library at it, and stops it on exit.
# Sets HSMD_PID, HSM_SERVER, MODULE, TOKEN_LABEL, SO_PIN, USER_PIN, SLOT_ID, ADMIN_SOCKET.
set -euo pipefail

RUNFILES="${TEST_SRCDIR:-$PWD}/${TEST_WORKSPACE:-hsm}"
MODULE="$RUNFILES/client/libhsm_pkcs11.so"
HSMD="$RUNFILES/server/hsmd"
WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/tooltest.XXXXXX")"

# The admin socket's path must fit a unix socket address (107 bytes); Bazel's
# sandbox paths do not, so it lives in a short folder under /tmp.
ADMIN_DIR="$(mktemp -d /tmp/hsmd-admin.XXXXXX)"
ADMIN_SOCKET="$ADMIN_DIR/admin.sock"

"$HSMD" --listen=127.0.0.1:0 --port_file="$WORK/port" --data_dir="$WORK/data" \
  --admin_socket="$ADMIN_SOCKET" --pin_kdf_iterations=1000 2>"$WORK/hsmd.log" &
HSMD_PID=$!
trap 'kill $HSMD_PID 2>/dev/null; wait $HSMD_PID 2>/dev/null || true; rm -rf "$ADMIN_DIR"' EXIT
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || { echo "hsmd did not start:"; cat "$WORK/hsmd.log"; exit 1; }
export HSM_SERVER="127.0.0.1:$(cat "$WORK/port")"
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
