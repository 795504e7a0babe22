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

# Crypto on the token, with the user PIN set above.
P11=(pkcs11-tool --module "$MODULE" --login --pin tool-pin-1234)

# --test signs, verifies and decrypts with the first RSA key it finds, and
# checks the output-buffer rules; it needs a key that can sign and decrypt.
step "generate an RSA-2048 key pair (--keypairgen)" "${P11[@]}" --keypairgen --key-type rsa:2048 \
  --id 0c01 --label tool-rsa --usage-sign --usage-decrypt
expect "Private Key Object; RSA"
# (It skips tool-key above: a private key without a public key object.)
step "pkcs11-tool's self test (--test)" "${P11[@]}" --test
expect "No errors"
expect "(tool-rsa)"
expect "SHA256-RSA-PKCS: OK"
expect "RSA-PKCS-OAEP"
cp "$STEP_OUTPUT" "$WORK/selftest.out"
step "--test printed no error line" bash -c "! grep -E 'ERR|FAILED|resulting cleartext doesn' '$WORK/selftest.out'"

printf 'data signed on the token by pkcs11-tool' > "$WORK/tosign.bin"
printf 'not the data that was signed' > "$WORK/other.bin"
step "RSA: sign (SHA256-RSA-PKCS)" "${P11[@]}" --sign -m SHA256-RSA-PKCS --id 0c01 \
  -i "$WORK/tosign.bin" -o "$WORK/rsa.sig"
step "RSA: a 2048-bit signature is 256 bytes" test "$(stat -c %s "$WORK/rsa.sig")" -eq 256
# --verify exits 0 even on a bad signature: the verdict is in its output.
step "RSA: verify on the token" "${P11[@]}" --verify -m SHA256-RSA-PKCS --id 0c01 \
  -i "$WORK/tosign.bin" --signature-file "$WORK/rsa.sig"
expect "Signature is valid"
step "RSA: other data does not verify" "${P11[@]}" --verify -m SHA256-RSA-PKCS --id 0c01 \
  -i "$WORK/other.bin" --signature-file "$WORK/rsa.sig"
expect "Invalid signature"
step "RSA: export the public key (--read-object --type pubkey)" pkcs11-tool --module "$MODULE" \
  --read-object --type pubkey --id 0c01 -o "$WORK/rsa-pub.der"
step "RSA: OpenSSL reads it" openssl pkey -pubin -inform DER -in "$WORK/rsa-pub.der" -out "$WORK/rsa-pub.pem"
step "RSA: OpenSSL verifies the token's signature" openssl dgst -sha256 -verify "$WORK/rsa-pub.pem" \
  -signature "$WORK/rsa.sig" "$WORK/tosign.bin"
expect "Verified OK"
step "RSA: and rejects it for other data" bash -c "! openssl dgst -sha256 -verify '$WORK/rsa-pub.pem' \
  -signature '$WORK/rsa.sig' '$WORK/other.bin'"

# EC keys are checked on the token only: pkcs11-tool 0.23 cannot export EC
# public keys with OpenSSL 3 (a use-after-free in its --read-object, OpenSC
# issue #3200), whatever the module.
step "EC: generate a P-256 key pair" "${P11[@]}" --keypairgen --key-type EC:prime256v1 --id 0c02 --label tool-ec
expect "EC_PARAMS:  06082a8648ce3d030107"
step "EC: sign (ECDSA-SHA256)" "${P11[@]}" --sign -m ECDSA-SHA256 --id 0c02 -i "$WORK/tosign.bin" \
  -o "$WORK/ec.sig"
step "EC: the signature is r || s, 64 bytes" test "$(stat -c %s "$WORK/ec.sig")" -eq 64
step "EC: verify on the token" "${P11[@]}" --verify -m ECDSA-SHA256 --id 0c02 -i "$WORK/tosign.bin" \
  --signature-file "$WORK/ec.sig"
expect "Signature is valid"
step "EC: other data does not verify" "${P11[@]}" --verify -m ECDSA-SHA256 --id 0c02 -i "$WORK/other.bin" \
  --signature-file "$WORK/ec.sig"
expect "Invalid signature"

step "AES: generate a 256-bit key (--keygen)" "${P11[@]}" --keygen --key-type AES:32 --id 0c03 --label tool-aes
expect "Secret Key Object; AES length 32"
printf 'plaintext that is not a whole number of AES blocks' > "$WORK/plain.bin"
PADDED=$(( ($(stat -c %s "$WORK/plain.bin") / 16 + 1) * 16 ))
IV=000102030405060708090a0b0c0d0e0f
step "AES: encrypt (AES-CBC-PAD)" "${P11[@]}" --encrypt -m AES-CBC-PAD --iv "$IV" --id 0c03 \
  -i "$WORK/plain.bin" -o "$WORK/aes.enc"
step "AES: the ciphertext is padded to whole blocks" test "$(stat -c %s "$WORK/aes.enc")" -eq "$PADDED"
step "AES: the ciphertext is not the plaintext" bash -c "! cmp -s '$WORK/plain.bin' '$WORK/aes.enc'"
step "AES: decrypt" "${P11[@]}" --decrypt -m AES-CBC-PAD --iv "$IV" --id 0c03 -i "$WORK/aes.enc" \
  -o "$WORK/aes.dec"
step "AES: the plaintext comes back" cmp "$WORK/plain.bin" "$WORK/aes.dec"

echo "pkcs11-tool: all steps passed"
