#!/usr/bin/env bash
# Certificate System scenario 4: JSS, the Java binding of NSS that Certificate
# System runs on. An NSS database holds the module (as pkispawn's instance
# database does); a small Java program (java/JssScenario.java, compiled here)
# initializes CryptoManager on it, logs into the token by name, generates an
# RSA-2048 and an EC P-256 key pair on the token, signs and verifies
# (SHA256withRSA, SHA256withEC), and shows that the private keys cannot be
# exported. The test then checks the keys' attributes with pkcs11-tool.
source "$(dirname "$0")/hsmd_fixture.sh"

JAVA_SRC=("$RUNFILES/tests/tools/java/JssScenario.java" "$RUNFILES/tests/tools/java/ScenarioSteps.java")
# JSS 5 logs through slf4j and uses commons-lang3 (libslf4j-java, libcommons-lang3-java).
CLASSPATH_JSS="/usr/share/java/jss.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar"
CLASSPATH_JSS+=":/usr/share/java/commons-lang3.jar"
DB="$WORK/instance-alias"
mkdir -p "$DB"
printf '%s\n' "$USER_PIN" > "$WORK/pinfile"

step "JSS, its native library and the JDK are installed" bash -c \
  "for f in ${CLASSPATH_JSS//:/ } /usr/lib/jss/libjss.so; do test -r \$f || { echo \"missing \$f\"; exit 1; }; done;
   command -v javac && command -v java"

step "create the instance's NSS database" certutil -N -d "sql:$DB" --empty-password
step "add the HSM module (modutil -add)" modutil -dbdir "sql:$DB" -add hsm -libfile "$MODULE" \
  -mechanisms FRIENDLY -force
step "modutil -list shows the token" modutil -dbdir "sql:$DB" -list hsm -force
expect "Token Name: $TOKEN_LABEL"

step "compile JssScenario.java against jss.jar (javac)" javac -d "$WORK/classes" -cp "$CLASSPATH_JSS" "${JAVA_SRC[@]}"
step "run the JSS scenario" java -Djava.library.path=/usr/lib/jss -cp "$CLASSPATH_JSS:$WORK/classes" \
  JssScenario "$DB" "$TOKEN_LABEL" "$WORK/pinfile"
expect "ok: initialize CryptoManager on the NSS database"
expect "ok: find the token by name ($TOKEN_LABEL)"
expect "ok: a wrong PIN is refused"
expect "ok: log into the token"
expect "ok: generate an RSA-2048 key pair on the token"
expect "ok: generate an EC P-256 key pair on the token"
expect "ok: RSA: the JDK verifies the signature with the public key"
expect "ok: EC: the JDK verifies the signature with the public key"
expect "ok: RSA: wrapping the private key out (AES key wrap with padding) fails"
expect "ok: EC: wrapping the private key out (AES key wrap with padding) fails"
expect "JSS scenario: all steps passed"
RSA_ID=$(sed -n 's/^key id RSA: //p' "$STEP_OUTPUT")
EC_ID=$(sed -n 's/^key id EC: //p' "$STEP_OUTPUT")

# The program sees that export fails; the token says why: the keys were made
# on it and are sensitive and never extractable.
step "the keys are on the token, generated there, sensitive and never extractable (pkcs11-tool)" bash -c "
  pkcs11-tool --module '$MODULE' --login --pin '$USER_PIN' -O --type privkey > '$WORK/privkeys' || exit 1
  for id in '$RSA_ID' '$EC_ID'; do
    [ -n \"\$id\" ] || { echo 'no key id printed'; exit 1; }
    access=\$(grep -A3 -i \"ID: *\$id\" '$WORK/privkeys' | grep 'Access:')
    echo \"\$id: \$access\"
    for want in 'sensitive' 'always sensitive' 'never extractable' 'local'; do
      echo \"\$access\" | grep -q \"\$want\" || { echo \"key \$id is not \$want\"; cat '$WORK/privkeys'; exit 1; }
    done
  done"
step "one RSA and one EC private key" bash -c "
  grep -B2 -i 'ID: *$RSA_ID' '$WORK/privkeys' | grep -q 'Private Key Object; RSA' &&
  grep -B2 -i 'ID: *$EC_ID' '$WORK/privkeys' | grep -q 'Private Key Object; EC'"

# --- An instance's own token -------------------------------------------------
# The administrator gives a second instance its own slot (hsmctl token create);
# JSS finds it by its label in the same NSS database, and its keys stay in it.
HSMCTL="$RUNFILES/server/hsmctl/hsmctl"
printf 'kra-so-pin-5678' > "$WORK/kra-so.pin"
printf 'kra-user-pin-5678' > "$WORK/kra-user.pin"
step "hsmctl token create dev kra-pki" "$HSMCTL" --socket="$ADMIN_SOCKET" token create dev kra-pki \
  --so_pin_file="$WORK/kra-so.pin" --user_pin_file="$WORK/kra-user.pin"
expect "created token 'kra-pki'"
KRA_SLOT=$(sed -n "s/.*created token 'kra-pki' in slot \([0-9]*\) .*/\1/p" "$STEP_OUTPUT")
step "NSS sees the new token" modutil -dbdir "sql:$DB" -list hsm -force
expect "Token Name: kra-pki"
expect "Token Name: $TOKEN_LABEL"
step "the JSS scenario on the instance's own token" java -Djava.library.path=/usr/lib/jss \
  -cp "$CLASSPATH_JSS:$WORK/classes" JssScenario "$DB" kra-pki "$WORK/kra-user.pin"
expect "ok: find the token by name (kra-pki)"
expect "JSS scenario: all steps passed"
KRA_RSA_ID=$(sed -n 's/^key id RSA: //p' "$STEP_OUTPUT")
step "its keys are in its slot, not in $TOKEN_LABEL's" bash -c "
  pkcs11-tool --module '$MODULE' --slot '$KRA_SLOT' --login --pin kra-user-pin-5678 -O --type privkey |
    grep -qi 'ID: *$KRA_RSA_ID' &&
  ! pkcs11-tool --module '$MODULE' --slot '$SLOT_ID' --login --pin '$USER_PIN' -O --type privkey |
    grep -qi 'ID: *$KRA_RSA_ID'"

echo "JSS: all steps passed"
