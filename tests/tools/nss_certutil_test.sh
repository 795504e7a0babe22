#!/usr/bin/env bash
# NSS's certutil and modutil against a real hsmd through the client library:
# the module is added to an NSS database, a certificate is imported to the
# token, listed, and its trust changed.
source "$(dirname "$0")/hsmd_fixture.sh"

DB="sql:$WORK/nssdb"
mkdir -p "$WORK/nssdb"
printf '%s\n' "$USER_PIN" > "$WORK/pinfile"

step "create an NSS database" certutil -N -d "$DB" --empty-password
step "add the module (modutil -add)" modutil -dbdir "$DB" -add hsm -libfile "$MODULE" -force
step "the module lists the token (modutil -list)" modutil -dbdir "$DB" -list hsm -force
expect "Token Name: $TOKEN_LABEL"
expect "Status: Enabled"
step "the token is listed by certutil -U" certutil -U -d "$DB"
expect "token=$TOKEN_LABEL"

step "make a test certificate with openssl" bash -c "
  openssl req -x509 -newkey rsa:2048 -nodes -keyout '$WORK/key.pem' -out '$WORK/cert.pem' \
    -subj /CN=nss-import-test -days 2 &&
  openssl x509 -in '$WORK/cert.pem' -outform DER -out '$WORK/cert.der'"
step "import it to the token (certutil -A -h)" certutil -A -d "$DB" -h "$TOKEN_LABEL" -f "$WORK/pinfile" \
  -n imported -t ",," -i "$WORK/cert.der"
step "list the token's certificates (certutil -L -h)" certutil -L -d "$DB" -h "$TOKEN_LABEL" -f "$WORK/pinfile"
expect "$TOKEN_LABEL:imported"
step "change its trust (certutil -M)" certutil -M -d "$DB" -n "$TOKEN_LABEL:imported" -t "CT,C,C" \
  -f "$WORK/pinfile"
step "the trust is kept on the token" certutil -L -d "$DB" -h "$TOKEN_LABEL" -f "$WORK/pinfile"
expect "CT,C,C"

# A second NSS database, as another host would have, sees the same certificate and trust.
DB2="sql:$WORK/nssdb2"
mkdir -p "$WORK/nssdb2"
# FRIENDLY: NSS may read the token's public certificates without logging in.
step "a second database adds the module (FRIENDLY)" bash -c "certutil -N -d '$DB2' --empty-password &&
  modutil -dbdir '$DB2' -add hsm -libfile '$MODULE' -mechanisms FRIENDLY -force"
step "it lists the certificate with its trust" certutil -L -d "$DB2" -h "$TOKEN_LABEL" -f "$WORK/pinfile"
expect "$TOKEN_LABEL:imported"
expect "CT,C,C"
step "print the certificate without logging in (certutil -L -n)" certutil -L -d "$DB2" -n "$TOKEN_LABEL:imported"
expect "CN=nss-import-test"

echo "NSS certutil: all steps passed"
