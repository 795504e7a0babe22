#!/usr/bin/env bash
# Certificate System scenario 5: the JDK's SunPKCS11 provider with keytool,
# jarsigner and a small Java program (java/SunPkcs11Scenario.java, compiled
# here). Keys are generated on the token (keytool -providername: without it
# keytool makes the key in software and imports it).
source "$(dirname "$0")/hsmd_fixture.sh"

JAVA_SRC=("$RUNFILES/tests/tools/java/SunPkcs11Scenario.java" "$RUNFILES/tests/tools/java/ScenarioSteps.java")
printf '%s\n' "$USER_PIN" > "$WORK/pinfile"

# The provider configuration an operator writes: the module, the slot, and the
# attributes of generated private keys (hsmd's defaults are the same, other
# HSMs' may not be). No CKA_TOKEN line: keytool makes session keys and copies
# the private key to the token (C_CopyObject), so no stray public key is left.
cat > "$WORK/hsm-pkcs11.cfg" <<CFG
name = hsmd
library = $MODULE
slot = $SLOT_ID
attributes(generate, CKO_PRIVATE_KEY, *) = {
  CKA_SENSITIVE = true
  CKA_EXTRACTABLE = false
}
CFG
# The same without any attributes line: the token's defaults decide.
printf 'name = hsmd\nlibrary = %s\nslotListIndex = 0\n' "$MODULE" > "$WORK/plain.cfg"

kt() {
  local cfg="$1"
  shift
  keytool "$@" -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$cfg" \
    -providername SunPKCS11-hsmd -storepass "$USER_PIN"
}
# The private key whose CKA_ID is the alias (keytool's choice) is local (made on
# the token), sensitive and never extractable.
key_on_token() {
  local id
  id=$(printf '%s' "$1" | xxd -p)
  pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN" -O --type privkey > "$WORK/privkeys" || return 1
  local access
  access=$(grep -A3 "ID: *$id\$" "$WORK/privkeys" | grep 'Access:') || { echo "no private key with ID $id"; cat "$WORK/privkeys"; return 1; }
  echo "$1: $access"
  for want in sensitive 'always sensitive' 'never extractable' local; do
    echo "$access" | grep -q "$want" || { echo "key $1 is not $want"; return 1; }
  done
}

step "the JDK is installed" bash -c "command -v keytool && command -v javac && command -v java && command -v jarsigner"

step "keytool -list on the empty token" kt "$WORK/hsm-pkcs11.cfg" -list
expect "Keystore provider: SunPKCS11-hsmd"
expect "Your keystore contains 0 entries"
step "a wrong store password (PIN) is refused" bash -c "! keytool -list -v -storetype PKCS11 \
  -providerClass sun.security.pkcs11.SunPKCS11 -providerArg '$WORK/hsm-pkcs11.cfg' -storepass wrong-pin"
expect "CKR_PIN_INCORRECT"

step "keytool -genkeypair RSA-2048 on the token" kt "$WORK/hsm-pkcs11.cfg" -genkeypair -keyalg RSA \
  -keysize 2048 -sigalg SHA256withRSA -alias ocspSigningCert -dname "CN=OCSP Signing Certificate,O=EXAMPLE" \
  -validity 30
step "... the key was generated on the token and cannot leave it" key_on_token ocspSigningCert
step "keytool -genkeypair EC P-256 on the token" kt "$WORK/hsm-pkcs11.cfg" -genkeypair -keyalg EC \
  -groupname secp256r1 -sigalg SHA256withECDSA -alias auditSigningCert \
  -dname "CN=Audit Signing Certificate,O=EXAMPLE" -validity 30
step "... the key was generated on the token and cannot leave it" key_on_token auditSigningCert
step "without an attributes line (slotListIndex) the token's defaults keep the key in" kt "$WORK/plain.cfg" \
  -genkeypair -keyalg RSA -keysize 2048 -sigalg SHA256withRSA -alias plain-config -dname "CN=plain" -validity 30
step "... sensitive and never extractable" key_on_token plain-config

step "keytool -list shows the key entries" kt "$WORK/hsm-pkcs11.cfg" -list
expect "Your keystore contains 3 entries"
expect "ocspSigningCert, PrivateKeyEntry"
expect "auditSigningCert, PrivateKeyEntry"
step "keytool -changealias renames an entry (CKA_ID and CKA_LABEL on the token)" kt "$WORK/hsm-pkcs11.cfg" \
  -changealias -alias plain-config -destalias spare-key
step "keytool -delete removes it" kt "$WORK/hsm-pkcs11.cfg" -delete -alias spare-key
step "... its key and certificate are gone from the token" bash -c "
  ! pkcs11-tool --module '$MODULE' --login --pin '$USER_PIN' -O | grep -E 'plain-config|spare-key|ID: *($(printf plain-config | xxd -p)|$(printf spare-key | xxd -p))\$'"
step "keytool -list: two entries left" kt "$WORK/hsm-pkcs11.cfg" -list
expect "Your keystore contains 2 entries"
step "keytool -list -v shows the certificate" kt "$WORK/hsm-pkcs11.cfg" -list -v -alias ocspSigningCert
expect "Owner: CN=OCSP Signing Certificate, O=EXAMPLE"
expect "Signature algorithm name: SHA256withRSA"
expect "Subject Public Key Algorithm: 2048-bit RSA key"
step "NSS's view: the certificate and key are on the token (pkcs11-tool -O)" pkcs11-tool --module "$MODULE" \
  --login --pin "$USER_PIN" -O --type cert
expect "label:      ocspSigningCert"
expect "label:      auditSigningCert"

step "keytool -certreq signs a CSR with the token key" kt "$WORK/hsm-pkcs11.cfg" -certreq \
  -alias ocspSigningCert -sigalg SHA256withRSA -file "$WORK/ocsp.csr"
step "OpenSSL verifies the CSR's signature" openssl req -in "$WORK/ocsp.csr" -noout -verify -subject
expect "verify OK"
expect "CN = OCSP Signing Certificate"
step "the CSR carries the certificate's public key" bash -c "
  keytool -exportcert -rfc -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
    -providerArg '$WORK/hsm-pkcs11.cfg' -storepass '$USER_PIN' -alias ocspSigningCert > '$WORK/ocsp.pem' &&
  cmp <(openssl req -in '$WORK/ocsp.csr' -noout -pubkey) <(openssl x509 -in '$WORK/ocsp.pem' -noout -pubkey)"

step "compile SunPkcs11Scenario.java (javac)" javac -d "$WORK/classes" "${JAVA_SRC[@]}"
step "sign through the provider and verify (RSA and EC)" java -cp "$WORK/classes" SunPkcs11Scenario \
  "$WORK/hsm-pkcs11.cfg" "$WORK/pinfile" ocspSigningCert SHA256withRSA auditSigningCert SHA256withECDSA
expect "ok: ocspSigningCert (SHA256withRSA): the JDK's software provider verifies it with the certificate's key"
expect "ok: auditSigningCert (SHA256withECDSA): the JDK's software provider verifies it with the certificate's key"
expect "ok: ocspSigningCert (SHA256withRSA): the key belongs to SunPKCS11 and has no encoding (sensitive)"
expect "SunPKCS11 scenario: all steps passed"

printf 'a release\n' > "$WORK/payload.txt"
step "make a jar" jar cf "$WORK/release.jar" -C "$WORK" payload.txt
step "jarsigner signs it with the token key" jarsigner -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
  -providerArg "$WORK/hsm-pkcs11.cfg" -storepass "$USER_PIN" -keystore NONE -sigalg SHA256withRSA \
  -signedjar "$WORK/release-signed.jar" "$WORK/release.jar" ocspSigningCert
expect "jar signed."
step "jarsigner -verify (no token involved)" jarsigner -verify -verbose "$WORK/release-signed.jar"
expect "jar verified."
expect "sm        10"
expect 'Signed by "CN=OCSP Signing Certificate, O=EXAMPLE"'
step "the signature block verifies with OpenSSL against the certificate" bash -c "
  cd '$WORK' && rm -rf unpacked && mkdir unpacked && cd unpacked && jar xf ../release-signed.jar &&
  openssl cms -verify -binary -inform DER -in META-INF/OCSPSIGN.RSA -content META-INF/OCSPSIGN.SF \
    -CAfile '$WORK/ocsp.pem' -purpose any -out /dev/null"
expect "Verification successful"

echo "SunPKCS11: all steps passed"
