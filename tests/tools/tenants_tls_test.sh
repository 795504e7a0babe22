#!/usr/bin/env bash
# Two tenants on one hsmd over mutual TLS: each client certificate maps to its
# tenant and sees only that tenant's slots and objects; certificates from an
# unknown CA, expired, revoked or missing are refused. The certificates are
# made here, at run time.
set -euo pipefail
CERTS="$(mktemp -d "${TEST_TMPDIR:-/tmp}/certs.XXXXXX")"
cd "$CERTS"
quiet() { "$@" >/dev/null 2>&1; }
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# issue NAME CA_PREFIX SAN: a certificate for NAME signed by CA_PREFIX.pem/.key.
issue() {
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" \
    -out "$1.pem" 2>/dev/null
}
for ca in ca rogue-ca; do
  newkey "$ca.key"
  openssl req -x509 -key "$ca.key" -subj "/CN=$ca" -days 2 -out "$ca.pem" 2>/dev/null
done
issue server ca "IP:127.0.0.1,DNS:localhost"
issue alpha ca "URI:spiffe://test/tenant-alpha"
issue beta ca "URI:spiffe://test/tenant-beta"
issue revoked ca "URI:spiffe://test/tenant-alpha"
issue rogue rogue-ca "URI:spiffe://test/tenant-alpha"
# An expired certificate: openssl ca can set the dates.
mkdir -p ca-db/new && : > ca-db/index.txt && echo 1000 > ca-db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = $CERTS/ca-db/index.txt
new_certs_dir = $CERTS/ca-db/new
serial = $CERTS/ca-db/serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
CNF
newkey expired.key
openssl req -new -key expired.key -subj "/CN=expired" -addext "subjectAltName=URI:spiffe://test/tenant-alpha" \
  -out expired.csr 2>/dev/null
quiet openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200102000000Z
REVOKED_SERIAL=$(openssl x509 -in revoked.pem -noout -serial | cut -d= -f2)
cat > tenants <<MAP
tenant alpha spiffe://test/tenant-alpha
tenant beta  spiffe://test/tenant-beta
revoke $REVOKED_SERIAL
MAP
cd - >/dev/null

HSMD_FLAGS=(--tls_cert="$CERTS/server.pem" --tls_key="$CERTS/server.key" --tls_client_ca="$CERTS/ca.pem"
            --tenants="$CERTS/tenants")
source "$(dirname "$0")/hsmd_fixture.sh"
ctl() { "$HSMCTL" --socket="$ADMIN_SOCKET" "$@"; }
# as NAME COMMAND...: runs a client with NAME's certificate.
as() {
  local name="$1"
  shift
  env HSM_TLS_CA="$CERTS/ca.pem" HSM_TLS_CERT="$CERTS/$name.pem" HSM_TLS_KEY="$CERTS/$name.key" "$@"
}

step "hsmd serves TLS" ctl status
expect "with TLS"
step "two tenants" bash -c "'$HSMCTL' --socket='$ADMIN_SOCKET' tenant create alpha &&
  '$HSMCTL' --socket='$ADMIN_SOCKET' tenant create beta"
step "alpha's tokens" env HSMCTL_SO_PIN=alpha-so HSMCTL_USER_PIN=alpha-user bash -c "
  '$HSMCTL' --socket='$ADMIN_SOCKET' token create alpha alpha-one &&
  '$HSMCTL' --socket='$ADMIN_SOCKET' token create alpha alpha-two"
step "beta's token" env HSMCTL_SO_PIN=beta-so HSMCTL_USER_PIN=beta-user "$HSMCTL" --socket="$ADMIN_SOCKET" \
  token create beta beta-one

step "alpha sees its two slots" as alpha pkcs11-tool --module "$MODULE" -L
expect "token label        : alpha-one"
expect "token label        : alpha-two"
step "... and nothing of beta's or the development tenant's" bash -c "
  ! grep -q -e beta-one -e '$TOKEN_LABEL' '$STEP_OUTPUT'"
step "beta sees its one slot" as beta pkcs11-tool --module "$MODULE" -L
expect "token label        : beta-one"
step "... and nothing of alpha's" bash -c "! grep -q alpha '$STEP_OUTPUT'"
step "alpha's slot 2 does not exist for beta" bash -c "
  ! env HSM_TLS_CA='$CERTS/ca.pem' HSM_TLS_CERT='$CERTS/beta.pem' HSM_TLS_KEY='$CERTS/beta.key' \
    pkcs11-tool --module '$MODULE' --slot 2 -I -O"
step "alpha stores a data object" as alpha pkcs11-tool --module "$MODULE" --slot 1 --login --pin alpha-user \
  --write-object "$CERTS/ca.pem" --type data --label alpha-only
step "beta, logged in on its own slot 1, does not see it" as beta pkcs11-tool --module "$MODULE" --slot 1 \
  --login --pin beta-user -O
step "... it is not there" bash -c "! grep -q alpha-only '$STEP_OUTPUT'"
step "alpha's PIN does not open beta's token" bash -c "
  ! env HSM_TLS_CA='$CERTS/ca.pem' HSM_TLS_CERT='$CERTS/beta.pem' HSM_TLS_KEY='$CERTS/beta.key' \
    pkcs11-tool --module '$MODULE' --slot 1 --login --pin alpha-user -O"

refused() {  # refused NAME: a client with NAME's certificate gets nothing.
  step "a client with the $1 certificate is refused" bash -c "
    ! env HSM_TLS_CA='$CERTS/ca.pem' HSM_TLS_CERT='$CERTS/$1.pem' HSM_TLS_KEY='$CERTS/$1.key' \
      pkcs11-tool --module '$MODULE' -L"
  expect "CKR_DEVICE_ERROR"
}
refused rogue
refused expired
refused revoked
step "a client without a certificate is refused in the handshake" bash -c "
  (sleep 1; echo) | openssl s_client -connect 127.0.0.1:$HSMD_PORT -CAfile '$CERTS/ca.pem' -alpn h2 2>&1 |
    grep -iE 'unexpected eof|alert' && grep -q 'peer did not return a certificate' '$WORK/hsmd.log'"
step "a plain-text client is refused" bash -c "! pkcs11-tool --module '$MODULE' -L"
expect "CKR_DEVICE_ERROR"
step "the audit trail names the tenant and the certificate" ctl audit tail 50
expect '"tenant":"alpha","client":"spiffe://test/tenant-alpha"'

# --- Production mode -----------------------------------------------------------
step "production mode refuses plain text" bash -c "
  ! '$HSMD' --mode=production --listen=127.0.0.1:0 --data_dir='$WORK/prod' --admin_socket=/tmp/hsmd-prod-\$\$.sock"
expect "refuses to start without TLS"
step "production mode refuses to start without a master key" bash -c "
  ! '$HSMD' --mode=production --listen=127.0.0.1:0 --data_dir='$WORK/prod' --admin_socket=/tmp/hsmd-prod-\$\$.sock \
    --tls_cert='$CERTS/server.pem' --tls_key='$CERTS/server.key' --tls_client_ca='$CERTS/ca.pem' \
    --tenants='$CERTS/tenants'"
expect "needs --master_key_file or HSM_MASTER_KEY"
step "plain text is only served on loopback" bash -c "
  ! '$HSMD' --listen=0.0.0.0:0 --data_dir='$WORK/open' --admin_socket=/tmp/hsmd-open-\$\$.sock"
expect "only on a loopback address"

echo "tenants over TLS: all steps passed"
