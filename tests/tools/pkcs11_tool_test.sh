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

# Objects: a certificate, a data object and a private key (DER), each written by
# one pkcs11-tool process and seen by the next, as two applications would.
step "make a test certificate and key with openssl" bash -c "
  openssl req -x509 -newkey rsa:2048 -nodes -keyout '$WORK/key.pem' -out '$WORK/cert.pem' \
    -subj /CN=pkcs11-tool-test -days 2 &&
  openssl x509 -in '$WORK/cert.pem' -outform DER -out '$WORK/cert.der' &&
  openssl pkey -in '$WORK/key.pem' -outform DER -out '$WORK/key.der'"
step "write a certificate (--write-object --type cert)" pkcs11-tool --module "$MODULE" --login --pin tool-pin-1234 \
  --write-object "$WORK/cert.der" --type cert --id 0a0b --label tool-cert
step "write a private key (--write-object --type privkey)" pkcs11-tool --module "$MODULE" --login \
  --pin tool-pin-1234 --write-object "$WORK/key.der" --type privkey --id 0a0b --label tool-key
printf 'hello from pkcs11-tool' > "$WORK/data.bin"
step "write a data object (--write-object --type data)" pkcs11-tool --module "$MODULE" --login --pin tool-pin-1234 \
  --write-object "$WORK/data.bin" --type data --label tool-data
step "another process lists them (-O)" pkcs11-tool --module "$MODULE" --login --pin tool-pin-1234 -O
expect "Certificate Object"
expect "label:      tool-cert"
expect "Private Key Object; RSA"
expect "label:      tool-key"
expect "Data object"
expect "'tool-data'"
step "the certificate is public: listed without login" pkcs11-tool --module "$MODULE" -O --type cert
expect "tool-cert"
step "read the certificate back (--read-object)" pkcs11-tool --module "$MODULE" --read-object --type cert \
  --id 0a0b --output-file "$WORK/cert.back"
step "it is the same certificate" cmp "$WORK/cert.der" "$WORK/cert.back"
step "read the data object back" pkcs11-tool --module "$MODULE" --login --pin tool-pin-1234 --read-object \
  --type data --label tool-data --output-file "$WORK/data.back"
step "it is the same data" cmp "$WORK/data.bin" "$WORK/data.back"
step "the private key is sensitive and not extractable" pkcs11-tool --module "$MODULE" --login \
  --pin tool-pin-1234 -O --type privkey
expect "Access:     sensitive"
step "its access line does not say extractable" bash -c "pkcs11-tool --module '$MODULE' --login \
  --pin tool-pin-1234 -O --type privkey | grep 'Access:' | grep -v extractable"
step "delete the data object (--delete-object)" pkcs11-tool --module "$MODULE" --login --pin tool-pin-1234 \
  --delete-object --type data --label tool-data
step "it is gone" bash -c "! pkcs11-tool --module '$MODULE' --login --pin tool-pin-1234 -O | grep -q tool-data"

echo "pkcs11-tool: all steps passed"
