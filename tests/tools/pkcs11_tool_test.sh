#!/usr/bin/env bash
# OpenSC's pkcs11-tool against a real hsmd through the client library.
source "$(dirname "$0")/hsmd_fixture.sh"

step "library info (-I)" pkcs11-tool --module "$MODULE" -I
expect "Cryptoki version 2.40"
expect "hsmd network HSM"

step "slot list (-L)" pkcs11-tool --module "$MODULE" -L
expect "token label        : $TOKEN_LABEL"
expect "token initialized"
expect "PIN initialized"
expect "login required"

step "mechanism list (-M)" pkcs11-tool --module "$MODULE" -M
expect "Supported mechanisms"

step "login and list objects (--login -O)" pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" -O

step "a wrong PIN is refused" bash -c "! pkcs11-tool --module '$MODULE' --login --pin wrong-pin -O"
expect "CKR_PIN_INCORRECT"

step "32 random bytes (--generate-random 32)" bash -c \
  "pkcs11-tool --module '$MODULE' --generate-random 32 > '$WORK/random' && test \$(stat -c %s '$WORK/random') -eq 32"
step "two draws differ" bash -c \
  "pkcs11-tool --module '$MODULE' --generate-random 32 > '$WORK/random2' && ! cmp -s '$WORK/random' '$WORK/random2'"

step "SO changes the user PIN (--init-pin)" pkcs11-tool --module "$MODULE" --login --login-type so \
  --so-pin "$SO_PIN" --init-pin --new-pin "tool-pin-1234"
step "the new user PIN works" pkcs11-tool --module "$MODULE" --login --pin "tool-pin-1234" -O

echo "pkcs11-tool: all steps passed"
