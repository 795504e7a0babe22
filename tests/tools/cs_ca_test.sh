#!/usr/bin/env bash
# Certificate System on the shared HSM, through NSS's own tools:
#  1. a CA instance keeps its signing key on the token, issues its subsystem
#     certificates (keys generated on the token), signs a CRL and a CMS message,
#     and cannot export its key;
#  2. a second host (its own NSS database and client configuration, same hsmd,
#     same token) sees the certificates, issues with the CA key, and both
#     instances work at the same time.
source "$(dirname "$0")/hsmd_fixture.sh"

DB="sql:$WORK/ca-host"
mkdir -p "$WORK/ca-host"
printf '%s\n' "$USER_PIN" > "$WORK/pinfile"
head -c 64 /dev/urandom > "$WORK/noise"
CA="$TOKEN_LABEL:caSigningCert cert-pki-ca"
nss() { "$@" -d "$DB" -f "$WORK/pinfile"; }

# --- Scenario 1: a CA on the HSM -------------------------------------------------
step "create the CA host's NSS database" certutil -N -d "$DB" --empty-password
step "add the HSM module (modutil -add, FRIENDLY)" modutil -dbdir "$DB" -add hsm -libfile "$MODULE" \
  -mechanisms FRIENDLY -force
step "modutil -list shows the token" modutil -dbdir "$DB" -list hsm -force
expect "Token Name: $TOKEN_LABEL"
expect "Login Type: Login required"
step "the slot is a present, non-removable token" bash -c \
  "pkcs11-tool --module '$MODULE' -L | grep -A3 'hsmd slot' | grep -q 'token label' &&
   ! pkcs11-tool --module '$MODULE' -L | grep -qi 'removable'"

step "CA signing key (RSA-2048) and self-signed certificate (certutil -S -x)" bash -c \
  "printf 'y\n-1\ny\n' | certutil -S -x -d '$DB' -f '$WORK/pinfile' -h '$TOKEN_LABEL' \
     -n 'caSigningCert cert-pki-ca' -s 'CN=CA Signing Certificate,O=EXAMPLE' -t CT,C,C \
     -k rsa -g 2048 -Z SHA256 -m 1 -v 24 -2 -z '$WORK/noise'"
step "OCSP signing certificate (RSA) issued by the CA key" nss certutil -S -h "$TOKEN_LABEL" -c "$CA" \
  -n "ocspSigningCert cert-pki-ca" -s "CN=OCSP Signing Certificate,O=EXAMPLE" -t ",," -k rsa -g 2048 \
  -Z SHA256 -m 2 -v 24 -z "$WORK/noise"
step "audit signing certificate (EC P-256) issued by the CA key" nss certutil -S -h "$TOKEN_LABEL" -c "$CA" \
  -n "auditSigningCert cert-pki-ca" -s "CN=CA Audit Signing Certificate,O=EXAMPLE" -t ",,P" -k ec -q nistp256 \
  -Z SHA256 -m 3 -v 24 -z "$WORK/noise"
step "SSL server certificate issued by the CA key" nss certutil -S -h "$TOKEN_LABEL" -c "$CA" \
  -n "Server-Cert cert-pki-ca" -s "CN=ca.example.com,O=EXAMPLE" -t ",," -k rsa -g 2048 -Z SHA256 -m 4 -v 24 \
  -z "$WORK/noise"

step "the token lists the certificates (certutil -L -h)" nss certutil -L -h "$TOKEN_LABEL"
for name in caSigningCert ocspSigningCert auditSigningCert Server-Cert; do
  expect "$TOKEN_LABEL:$name cert-pki-ca"
done
expect "CTu,Cu,Cu"
step "the token lists the keys (certutil -K -h)" nss certutil -K -h "$TOKEN_LABEL"
expect "$TOKEN_LABEL:caSigningCert cert-pki-ca"
expect "ec "
step "each certificate's key id matches its key's CKA_ID" bash -c "
  for name in caSigningCert ocspSigningCert auditSigningCert Server-Cert; do
    key_id=\$(certutil -K -d '$DB' -f '$WORK/pinfile' -h '$TOKEN_LABEL' | grep \"\$name\" | grep -o '[0-9a-f]\\{40\\}')
    [ -n \"\$key_id\" ] || { echo \"no key for \$name\"; exit 1; }
    pkcs11-tool --module '$MODULE' -O --type cert | grep -A6 \"\$name\" | grep -qi \"ID: *\$key_id\" ||
      { echo \"certificate \$name has no CKA_ID \$key_id\"; exit 1; }
  done"
step "the server certificate verifies (certutil -V, before login)" certutil -V -d "$DB" -u V \
  -n "$TOKEN_LABEL:Server-Cert cert-pki-ca"
expect "certificate is valid"

printf 'update=20260101000000Z\naddcert 2 20260101000000Z\n' > "$WORK/crl-script"
step "a CRL signed with the CA key (crlutil -G)" nss crlutil -G -h "$TOKEN_LABEL" -n "$CA" \
  -c "$WORK/crl-script" -o "$WORK/crl.der"
step "export the CA certificate" bash -c "certutil -L -d '$DB' -n '$CA' -a > '$WORK/ca.pem'"
step "OpenSSL verifies the CRL with the CA certificate" openssl crl -inform DER -in "$WORK/crl.der" \
  -CAfile "$WORK/ca.pem" -noout
expect "verify OK"

printf 'an audit event\n' > "$WORK/message"
step "a CMS message signed with the audit key (cmsutil -S)" nss cmsutil -S \
  -N "$TOKEN_LABEL:auditSigningCert cert-pki-ca" -i "$WORK/message" -o "$WORK/message.p7"
step "cmsutil decodes it" nss cmsutil -D -i "$WORK/message.p7" -o "$WORK/message.out"
step "OpenSSL verifies the CMS signature" openssl cms -verify -inform DER -in "$WORK/message.p7" \
  -CAfile "$WORK/ca.pem" -purpose any -out "$WORK/message.verified"
step "the verified content is the message" cmp "$WORK/message" "$WORK/message.verified"
step "a tampered CMS message does not verify" bash -c "
  python3 -c \"import sys; d=bytearray(open(sys.argv[1],'rb').read()); i=d.find(b'audit event'); d[i]^=1;
open(sys.argv[2],'wb').write(d)\" '$WORK/message.p7' '$WORK/tampered.p7' &&
  ! openssl cms -verify -inform DER -in '$WORK/tampered.p7' -CAfile '$WORK/ca.pem' -purpose any -out /dev/null"

step "trust flags change on the token (certutil -M)" nss certutil -M -n "$TOKEN_LABEL:Server-Cert cert-pki-ca" \
  -t "P,,"
step "the new trust is listed" nss certutil -L -h "$TOKEN_LABEL"
expect "Pu,u,u"

step "the CA key cannot be exported (pk12util -o fails)" bash -c \
  "! pk12util -o '$WORK/ca.p12' -d '$DB' -n '$CA' -k '$WORK/pinfile' -W export-password"
step "... and remains usable: another certificate is issued with it" nss certutil -S -h "$TOKEN_LABEL" \
  -c "$CA" -n "subsystemCert cert-pki-ca" -s "CN=CA Subsystem Certificate,O=EXAMPLE" -t ",," -k rsa -g 2048 \
  -Z SHA256 -m 5 -v 24 -z "$WORK/noise"

# --- Scenario 2: a second host ----------------------------------------------------
HOST2="sql:$WORK/second-host"
mkdir -p "$WORK/second-host"
printf 'server = %s\ndeadline_ms = 20000\n' "$HSM_SERVER" > "$WORK/second-host.conf"
host2() { env -u HSM_SERVER HSM_PKCS11_CONFIG="$WORK/second-host.conf" "$@"; }

step "the second host's database and module (own client configuration)" host2 bash -c "
  certutil -N -d '$HOST2' --empty-password &&
  modutil -dbdir '$HOST2' -add hsm -libfile '$MODULE' -mechanisms FRIENDLY -force"
step "it sees the first host's certificates" host2 certutil -L -d "$HOST2" -h "$TOKEN_LABEL" -f "$WORK/pinfile"
expect "$TOKEN_LABEL:caSigningCert cert-pki-ca"
expect "$TOKEN_LABEL:Server-Cert cert-pki-ca"
step "it issues a certificate with the CA key" host2 certutil -S -d "$HOST2" -f "$WORK/pinfile" \
  -h "$TOKEN_LABEL" -c "$CA" -n "Server-Cert host2" -s "CN=host2.example.com,O=EXAMPLE" -t ",," -k rsa \
  -g 2048 -Z SHA256 -m 6 -v 24 -z "$WORK/noise"
step "its nickname does not collide with the first host's" nss certutil -L -h "$TOKEN_LABEL"
expect "$TOKEN_LABEL:Server-Cert cert-pki-ca"
expect "$TOKEN_LABEL:Server-Cert host2"
step "the first host verifies the second host's certificate" certutil -V -d "$DB" -u V \
  -n "$TOKEN_LABEL:Server-Cert host2"
expect "certificate is valid"

step "both instances sign at the same time" bash -c "
  set -e
  for i in 1 2 3; do
    certutil -S -d '$DB' -f '$WORK/pinfile' -h '$TOKEN_LABEL' -c '$CA' -n \"host1-\$i\" -s \"CN=host1-\$i\" -t ,, \
      -k ec -q nistp256 -Z SHA256 -m \$((100 + i)) -v 12 -z '$WORK/noise' &
    env -u HSM_SERVER HSM_PKCS11_CONFIG='$WORK/second-host.conf' certutil -S -d '$HOST2' -f '$WORK/pinfile' \
      -h '$TOKEN_LABEL' -c '$CA' -n \"host2-\$i\" -s \"CN=host2-\$i\" -t ,, -k ec -q nistp256 -Z SHA256 \
      -m \$((200 + i)) -v 12 -z '$WORK/noise' &
  done
  wait"
step "all six certificates are on the token" nss certutil -L -h "$TOKEN_LABEL"
for i in 1 2 3; do
  expect "$TOKEN_LABEL:host1-$i"
  expect "$TOKEN_LABEL:host2-$i"
done

# --- Scenario 3: an empty slot per instance -------------------------------------
step "an administrator gives a new instance its own token" env HSMCTL_SO_PIN=kra-so-pin \
  HSMCTL_USER_PIN=kra-user-pin "$HSMCTL" --socket="$ADMIN_SOCKET" token create dev kra-instance
expect "slot 2"
step "labels NSS cannot use are refused with a clear message" bash -c "
  ! env HSMCTL_SO_PIN=x1234 '$HSMCTL' --socket='$ADMIN_SOCKET' token create dev 'pki:kra' 2>&1 | tee /dev/stderr |
    grep -q \"may not contain ':'\" && exit 1
  env HSMCTL_SO_PIN=x1234 '$HSMCTL' --socket='$ADMIN_SOCKET' token create dev 'kra ' 2>&1 | grep -q 'blank'"
KRA_DB="sql:$WORK/kra-host"
mkdir -p "$WORK/kra-host"
printf 'kra-user-pin\n' > "$WORK/kra-pinfile"
step "the new instance's NSS database sees its empty token" bash -c "
  certutil -N -d '$KRA_DB' --empty-password &&
  modutil -dbdir '$KRA_DB' -add hsm -libfile '$MODULE' -mechanisms FRIENDLY -force &&
  certutil -L -d '$KRA_DB' -h kra-instance -f '$WORK/kra-pinfile'"
step "... which holds no certificates" bash -c "! grep -q cert-pki '$STEP_OUTPUT'"
step "the instance installs its signing key with the default nickname" bash -c \
  "printf 'y\n-1\ny\n' | certutil -S -x -d '$KRA_DB' -f '$WORK/kra-pinfile' -h kra-instance \
     -n 'caSigningCert cert-pki-ca' -s 'CN=Second instance CA,O=EXAMPLE' -t CT,C,C \
     -k rsa -g 2048 -Z SHA256 -m 1 -v 24 -2 -z '$WORK/noise'"
step "each token holds its own caSigningCert: no collision" bash -c "
  certutil -L -d '$KRA_DB' -f '$WORK/kra-pinfile' -n 'kra-instance:caSigningCert cert-pki-ca' |
    grep -q 'CN=Second instance CA' &&
  certutil -L -d '$DB' -f '$WORK/pinfile' -n '$TOKEN_LABEL:caSigningCert cert-pki-ca' |
    grep -q 'CN=CA Signing Certificate'"
step "the first instance's token is unchanged" nss certutil -L -h "$TOKEN_LABEL"
expect "$TOKEN_LABEL:caSigningCert cert-pki-ca"
step "the new instance's keys are on its token only" certutil -K -d "$KRA_DB" -h kra-instance -f "$WORK/kra-pinfile"
expect "kra-instance:caSigningCert cert-pki-ca"

echo "Certificate System CA scenarios: all steps passed"
