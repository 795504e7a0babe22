#!/usr/bin/env bash
# Administration with hsmctl against a real hsmd: tokens for instances, PIN
# lockout and unlock, object metadata, the audit trail and its tamper check,
# backup and restore.
HSMD_FLAGS=(--max_pin_failures=3)
source "$(dirname "$0")/hsmd_fixture.sh"
ctl() { "$HSMCTL" --socket="$ADMIN_SOCKET" --data_dir="$WORK/data" "$@"; }

step "hsmctl status" ctl status
expect "serving 127.0.0.1:$HSMD_PORT"
step "bad usage exits 2" bash -c "'$HSMCTL' --socket='$ADMIN_SOCKET' --data_dir='$WORK/data' frobnicate; test \$? -eq 2"
step "an unreachable hsmd exits 3" bash -c "'$HSMCTL' --socket=/tmp/hsmd-none-\$\$.sock status; test \$? -eq 3"

# --- Tokens: an empty slot per instance ------------------------------------------
step "a tenant for a new instance" ctl tenant create kra-east
step "its token" env HSMCTL_SO_PIN=so-pin-kra HSMCTL_USER_PIN=user-pin-kra "$HSMCTL" --socket="$ADMIN_SOCKET" --data_dir="$WORK/data" \
  token create kra-east "kra-east token"
expect "slot 1 of tenant kra-east"
step "labels NSS cannot use are refused" bash -c "
  export HSMCTL_SO_PIN=so-pin-kra
  ! '$HSMCTL' --socket='$ADMIN_SOCKET' --data_dir='$WORK/data' token create kra-east 'pki:kra' 2>'$WORK/err1' && grep -q \"':'\" '$WORK/err1' &&
  ! '$HSMCTL' --socket='$ADMIN_SOCKET' --data_dir='$WORK/data' token create kra-east 'trailing ' 2>'$WORK/err2' && grep -q blank '$WORK/err2'"
step "a second token for the development tenant" env HSMCTL_SO_PIN=so-pin-2 HSMCTL_USER_PIN=user-pin-2 \
  "$HSMCTL" --socket="$ADMIN_SOCKET" --data_dir="$WORK/data" token create dev "instance-2"
expect "slot 2 of tenant dev"
step "token list" ctl token list dev
expect "dev-token"
expect "instance-2"
step "a new application sees the new slot" pkcs11-tool --module "$MODULE" -L
expect "token label        : instance-2"
step "objects on the second token" pkcs11-tool --module "$MODULE" --slot 2 --login --pin user-pin-2 \
  --keypairgen --key-type EC:prime256v1 --id 0102 --label instance-2-key
step "object metadata, never values" ctl objects dev 2
expect "instance-2-key"
expect "0102"
step "clear the slot (token clear)" ctl token clear dev 2
step "it is empty" ctl objects dev 2
step "no object is listed" bash -c "! grep -q instance-2-key '$STEP_OUTPUT'"
step "delete the token" ctl token delete dev 2
step "it is gone" bash -c "! '$HSMCTL' --socket='$ADMIN_SOCKET' --data_dir='$WORK/data' token list dev | grep -q instance-2"

# --- PIN lockout and unlock --------------------------------------------------------
for i in 1 2 3; do
  step "wrong PIN $i" bash -c "! pkcs11-tool --module '$MODULE' --login --pin wrong-$i -O"
done
step "the right PIN is now refused: locked" bash -c "! pkcs11-tool --module '$MODULE' --login --pin '$USER_PIN' -O"
expect "CKR_PIN_LOCKED"
step "pkcs11-tool shows the lock" pkcs11-tool --module "$MODULE" -L
expect "user PIN locked"
step "hsmctl counts the failures" ctl token list dev
expect "3/0"
step "hsmctl pin unlock" ctl pin unlock dev 1 user
step "the PIN works again" pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" -O
step "hsmctl pin set" env HSMCTL_PIN=admin-set-pin "$HSMCTL" --socket="$ADMIN_SOCKET" --data_dir="$WORK/data" pin set dev 1 user
step "the new PIN works" pkcs11-tool --module "$MODULE" --login --pin admin-set-pin -O
USER_PIN=admin-set-pin

# --- The audit trail ------------------------------------------------------------------
step "a scripted session: key generation and a signature" bash -c "
  pkcs11-tool --module '$MODULE' --login --pin '$USER_PIN' --keypairgen --key-type rsa:2048 --id 0a --label audited-key &&
  echo data > '$WORK/data.txt' &&
  pkcs11-tool --module '$MODULE' --login --pin '$USER_PIN' --sign --id 0a -m SHA256-RSA-PKCS -i '$WORK/data.txt' -o '$WORK/sig'"
step "audit tail shows the records" ctl audit tail 30
expect '"operation":"C_Login"'
expect '"operation":"C_GenerateKeyPair"'
expect '"operation":"C_SignInit"'
expect '"label":"audited-key"'
expect '"mechanism":"0x40"'
expect '"operation":"admin.pin.unlock"'
expect '"result":"0x000000a0"'
step "no PIN is in the audit trail" bash -c "
  ! grep -q -e '$USER_PIN' -e '$SO_PIN' -e so-pin-kra -e user-pin-kra -e wrong-1 '$WORK/data/audit.log'"
step "audit verify: intact" ctl audit verify
expect "intact"
step "edit one record (its time)" sed -i '3s/"time":"2/"time":"1/' "$WORK/data/audit.log"
step "the edit took" bash -c "sed -n 3p '$WORK/data/audit.log' | grep -q '\"time\":\"1'"
step "audit verify fails and names the line" bash -c "
  '$HSMCTL' --socket='$ADMIN_SOCKET' --data_dir='$WORK/data' audit verify 2>&1; test \${PIPESTATUS[0]} -ne 0"
expect "line 3"

# --- Backup, wipe, restore ----------------------------------------------------------
AES_HEX=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
step "an AES key of known bytes" bash -c "
  printf '%s' '$AES_HEX' | xxd -r -p > '$WORK/aes.bin' &&
  pkcs11-tool --module '$MODULE' --login --pin '$USER_PIN' --write-object '$WORK/aes.bin' --type secrkey \
    --key-type AES:32 --id 0b --label backed-up-aes"
step "hot backup" ctl backup "$WORK/backup"
expect "backed up"
step "the backup is still sealed: the key bytes are not in it" bash -c "
  ! grep -c \"\$(cat '$WORK/aes.bin')\" '$WORK/backup/data.mdb' >/dev/null"
step "restore refuses while hsmd runs" bash -c "! '$HSMCTL' --socket='$ADMIN_SOCKET' --data_dir='$WORK/data' restore '$WORK/backup'"
stop_hsmd
step "wipe the database" rm -f "$WORK/data/data.mdb" "$WORK/data/lock.mdb"
step "restore" ctl restore "$WORK/backup"
start_hsmd "127.0.0.1:$HSMD_PORT"
step "the keys are back and usable" pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" --sign --id 0a \
  -m SHA256-RSA-PKCS -i "$WORK/data.txt" -o "$WORK/sig2"
step "the restored AES key is listed" pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" -O --type secrkey
expect "backed-up-aes"

echo "hsmctl: all steps passed"
