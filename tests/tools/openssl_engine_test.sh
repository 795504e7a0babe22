#!/usr/bin/env bash
# Certificate System scenario 6: OpenSSL 3 with libp11's pkcs11 engine
# (libengine-pkcs11-openssl) uses token keys addressed by pkcs11: URIs: a CSR,
# a signature verified with the public key alone, and a TLS server whose key
# stays on the token. Keys are generated on the token with pkcs11-tool.
# Every engine login uses the right PIN: libp11 0.4.12 crashes after a failed one.
source "$(dirname "$0")/hsmd_fixture.sh"

ENGINE_SO=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
# The configuration an operator writes: the engine, and the PKCS #11 module it loads.
cat > "$WORK/openssl.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $MODULE
init = 0
[req]
distinguished_name = req_dn
[req_dn]
CNF
export OPENSSL_CONF="$WORK/openssl.cnf"
uri() { printf 'pkcs11:token=%s;object=%s;type=%s' "$TOKEN_LABEL" "$1" "$2"; }
RSA_KEY="$(uri tls-rsa private);pin-value=$USER_PIN"
EC_KEY="$(uri tls-ec private);pin-value=$USER_PIN"
engine() { local command="$1"; shift; openssl "$command" -engine pkcs11 -keyform engine "$@"; }

step "the engine is installed" test -r "$ENGINE_SO"
step "the engine loads the module (openssl engine -t pkcs11)" openssl engine -t -c pkcs11
expect "[ available ]"

step "RSA-2048 key pair on the token (pkcs11-tool --keypairgen)" pkcs11-tool --module "$MODULE" --login \
  --pin "$USER_PIN" --keypairgen --key-type rsa:2048 --id 5101 --label tls-rsa
step "EC P-256 key pair on the token (pkcs11-tool --keypairgen)" pkcs11-tool --module "$MODULE" --login \
  --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 --id 5102 --label tls-ec
# (p11tool rather than pkcs11-tool --read-object: OpenSC 0.23's pkcs11-tool reads
# EC public keys through freed memory, which AddressSanitizer stops.)
export_public_keys() {
  local k
  for k in tls-rsa tls-ec; do
    p11tool --provider "$MODULE" --export "$(uri $k public)" > "$WORK/$k.export.pem" &&
      openssl pkey -pubin -in "$WORK/$k.export.pem" -out "$WORK/$k.pub.pem" || return 1
  done
}
step "their public keys, read without the engine (p11tool --export)" export_public_keys
step "... an RSA-2048 and a P-256 key" bash -c "openssl pkey -pubin -in '$WORK/tls-rsa.pub.pem' -noout -text &&
  openssl pkey -pubin -in '$WORK/tls-ec.pub.pem' -noout -text"
expect "Public-Key: (2048 bit)"
expect "NIST CURVE: P-256"

# --- A certificate request signed on the token ---------------------------------
step "openssl req -new with the token's RSA key (pkcs11: URI)" engine req -new -key "$RSA_KEY" \
  -subj "/O=EXAMPLE/CN=Server-Cert" -sha256 -out "$WORK/server.csr"
step "the CSR's signature verifies" openssl req -in "$WORK/server.csr" -noout -verify -subject
expect "verify OK"
expect "CN = Server-Cert"
step "the CSR carries the token's public key" cmp <(openssl req -in "$WORK/server.csr" -noout -pubkey) \
  "$WORK/tls-rsa.pub.pem"

# --- Signatures verified with the public key alone -----------------------------
printf 'an audit log to sign\n' > "$WORK/log.txt"
printf 'an audit log to sign!\n' > "$WORK/changed.txt"
for key in rsa ec; do
  if [ "$key" = rsa ]; then KEY_URI="$RSA_KEY"; else KEY_URI="$EC_KEY"; fi
  step "openssl dgst -sha256 -sign with the token's $key key" engine dgst -sha256 -sign "$KEY_URI" \
    -out "$WORK/log.$key.sig" "$WORK/log.txt"
  step "openssl dgst -verify with the $key public key" openssl dgst -sha256 -verify "$WORK/tls-$key.pub.pem" \
    -signature "$WORK/log.$key.sig" "$WORK/log.txt"
  expect "Verified OK"
  step "a changed text does not verify ($key)" bash -c "! openssl dgst -sha256 -verify '$WORK/tls-$key.pub.pem' \
    -signature '$WORK/log.$key.sig' '$WORK/changed.txt'"
  expect "Verification failure"
done

step "PKCS11_MODULE_PATH instead of a configuration file" env -u OPENSSL_CONF PKCS11_MODULE_PATH="$MODULE" \
  openssl dgst -sha256 -engine pkcs11 -keyform engine -sign "$EC_KEY" -out "$WORK/log.env.sig" "$WORK/log.txt"
step "... verifies too" openssl dgst -sha256 -verify "$WORK/tls-ec.pub.pem" -signature "$WORK/log.env.sig" \
  "$WORK/log.txt"
expect "Verified OK"

# The PIN from a file, kept out of the command line (libp11 does not strip a
# trailing newline: write the file without one).
printf '%s' "$USER_PIN" > "$WORK/pin.txt"
step "the PIN from a file (pin-source= in the URI)" engine dgst -sha256 \
  -sign "$(uri tls-rsa private);pin-source=$WORK/pin.txt" -out "$WORK/log.pinsource.sig" "$WORK/log.txt"
step "... verifies too" openssl dgst -sha256 -verify "$WORK/tls-rsa.pub.pem" -signature "$WORK/log.pinsource.sig" \
  "$WORK/log.txt"
expect "Verified OK"

# --- TLS: s_server's key on the token ------------------------------------------
# tls_exchange NAME KEY_URI CERT SERVER_FLAGS: s_server on 127.0.0.1 and a free port
# (-accept :0, the port read from its ACCEPT line), one connection, -rev echoes each
# line reversed; s_client verifies the certificate, sends a line, reads the answer.
tls_exchange() {
  local name="$1" key="$2" cert="$3" flags="$4"
  local out="$WORK/s_server.$name.out"
  # shellcheck disable=SC2086
  openssl s_server -engine pkcs11 -keyform engine -key "$key" -cert "$cert" -accept 127.0.0.1:0 \
    -naccept 1 -rev $flags > "$out" 2>&1 &
  local server=$!
  for _ in $(seq 100); do grep -q '^ACCEPT' "$out" && break; kill -0 $server 2>/dev/null || break; sleep 0.1; done
  local port
  port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
  if [ -z "$port" ]; then echo "s_server did not start:"; cat "$out"; kill $server 2>/dev/null; return 1; fi
  echo "s_server on port $port"
  printf 'line from the client %s\nCLOSE\n' "$name" | timeout 60 openssl s_client -connect "127.0.0.1:$port" \
    -CAfile "$cert" -verify_return_error -ign_eof 2>&1
  local client_rc=$?
  timeout 20 tail --pid=$server -f /dev/null
  kill $server 2>/dev/null
  wait $server
  local server_rc=$?
  echo "--- s_server (exit $server_rc):"
  cat "$out"
  [ $client_rc -eq 0 ] && [ $server_rc -eq 0 ]
}

step "self-signed RSA server certificate made with the token key" engine req -x509 -new -key "$RSA_KEY" \
  -subj "/O=EXAMPLE/CN=localhost" -sha256 -days 2 -out "$WORK/server-rsa.pem"
step "TLS 1.3: s_server holds its RSA key on the token, s_client completes the handshake" \
  tls_exchange rsa "$RSA_KEY" "$WORK/server-rsa.pem" "-tls1_3"
expect "Verify return code: 0 (ok)"
expect "New, TLSv1.3"
expect "Peer signature type: RSA-PSS"
expect "CONNECTION ESTABLISHED"
expect "asr tneilc eht morf enil"

step "self-signed EC server certificate made with the token key" engine req -x509 -new -key "$EC_KEY" \
  -subj "/O=EXAMPLE/CN=localhost" -sha256 -days 2 -out "$WORK/server-ec.pem"
step "TLS 1.2 (ECDHE-ECDSA): s_server holds its EC key on the token" \
  tls_exchange ec "$EC_KEY" "$WORK/server-ec.pem" "-tls1_2"
expect "Verify return code: 0 (ok)"
expect "New, TLSv1.2, Cipher is ECDHE-ECDSA-"
expect "Peer signature type: ECDSA"
expect "ce tneilc eht morf enil"

echo "OpenSSL pkcs11 engine: all steps passed"
