// The token against an independent implementation: signatures made through
// the real library are verified by OpenSSL with the public key a client reads
// back (modulus and exponent, or the EC point), OpenSSL encrypts for the token
// to decrypt, and both sides of an ECDH agree. Self-consistency alone would
// miss a token whose sign and verify are wrong in the same way.
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <vector>

#include "tests/integration/crypto_support.h"

namespace hsm::testing {
namespace {

class InteropTest : public CryptoTest {
 protected:
  std::string Sha256(const std::string& data) { return Digest(CKM_SHA256, data); }
};

const std::string kMessage = "The quick brown fox jumps over the lazy dog, signed on the token.";

struct HashSignCase {
  CK_MECHANISM_TYPE mechanism;
  const char* md;  // OpenSSL's name of the hash
};

TEST_F(InteropTest, RsaSignaturesVerifyInOpenSsl) {
  const KeyPair pair = GenerateRsa();
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  Pkey public_key = RsaPublicOf(pair.public_key);
  ASSERT_NE(public_key, nullptr);

  // Hash-and-sign PKCS #1 v1.5, every hash.
  for (const HashSignCase& c : std::vector<HashSignCase>{{CKM_SHA1_RSA_PKCS, "SHA1"},
                                                         {CKM_SHA224_RSA_PKCS, "SHA224"},
                                                         {CKM_SHA256_RSA_PKCS, "SHA256"},
                                                         {CKM_SHA384_RSA_PKCS, "SHA384"},
                                                         {CKM_SHA512_RSA_PKCS, "SHA512"}}) {
    SCOPED_TRACE(c.md);
    const std::string signature = Sign(Mech(c.mechanism), pair.private_key, kMessage);
    EXPECT_EQ(signature.size(), 256u);
    EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), c.md, kMessage, signature));
    EXPECT_FALSE(OpenSslVerifyMessage(public_key.get(), c.md, kMessage + ".", signature));
    EXPECT_THAT(Verify(Mech(c.mechanism), pair.public_key, kMessage, signature), RvIs(CKR_OK));
  }

  // Raw CKM_RSA_PKCS over a SHA-256 DigestInfo the application built.
  const std::string hash = Sha256(kMessage);
  const std::string raw = Sign(Mech(CKM_RSA_PKCS), pair.private_key, Sha256DigestInfo(hash));
  EXPECT_TRUE(OpenSslVerifyHash(public_key.get(), "SHA256", hash, raw));
  // It is the same signature CKM_SHA256_RSA_PKCS makes (v1.5 is deterministic).
  EXPECT_EQ(Hex(raw), Hex(Sign(Mech(CKM_SHA256_RSA_PKCS), pair.private_key, kMessage)));

  // PSS with salt = hash length: raw over a hash, and hash-and-sign.
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  const std::string pss_raw = Sign(Mech(CKM_RSA_PKCS_PSS, &pss), pair.private_key, hash);
  EXPECT_TRUE(OpenSslVerifyHash(public_key.get(), "SHA256", hash, pss_raw, 32));
  EXPECT_THAT(Verify(Mech(CKM_RSA_PKCS_PSS, &pss), pair.public_key, hash, pss_raw), RvIs(CKR_OK));
  const std::string pss_hashed = Sign(Mech(CKM_SHA256_RSA_PKCS_PSS, &pss), pair.private_key, kMessage);
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", kMessage, pss_hashed, 32));
  EXPECT_THAT(Verify(Mech(CKM_SHA256_RSA_PKCS_PSS, &pss), pair.public_key, kMessage, pss_hashed), RvIs(CKR_OK));
  // PSS is randomized: two signatures of one message differ, both valid.
  const std::string pss_again = Sign(Mech(CKM_SHA256_RSA_PKCS_PSS, &pss), pair.private_key, kMessage);
  EXPECT_NE(pss_again, pss_hashed);
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", kMessage, pss_again, 32));
}

struct EcCurve {
  const char* group;
  std::string params;
  size_t field_bytes;
};

TEST_F(InteropTest, EcdsaSignaturesVerifyInOpenSsl) {
  for (const EcCurve& curve : std::vector<EcCurve>{{"P-256", kP256Params, 32}, {"P-384", kP384Params, 48},
                                                   {"P-521", kP521Params, 66}}) {
    SCOPED_TRACE(curve.group);
    const KeyPair pair = GenerateEc(curve.params);
    ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
    Pkey public_key = EcPublicOf(pair.public_key, curve.group);
    ASSERT_NE(public_key, nullptr);
    // CKM_ECDSA over a 32-byte hash; r || s, each the field's size.
    const std::string hash = Sha256(kMessage);
    const std::string raw = Sign(Mech(CKM_ECDSA), pair.private_key, hash);
    EXPECT_EQ(raw.size(), 2 * curve.field_bytes);
    EXPECT_TRUE(OpenSslVerifyHash(public_key.get(), nullptr, hash, EcdsaRawToDer(raw)));
    EXPECT_THAT(Verify(Mech(CKM_ECDSA), pair.public_key, hash, raw), RvIs(CKR_OK));
    // CKM_ECDSA_SHA256 hashes on the token.
    const std::string hashed = Sign(Mech(CKM_ECDSA_SHA256), pair.private_key, kMessage);
    EXPECT_EQ(hashed.size(), 2 * curve.field_bytes);
    EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", kMessage, EcdsaRawToDer(hashed)));
    EXPECT_FALSE(OpenSslVerifyMessage(public_key.get(), "SHA256", kMessage + "!", EcdsaRawToDer(hashed)));
    EXPECT_THAT(Verify(Mech(CKM_ECDSA_SHA256), pair.public_key, kMessage, hashed), RvIs(CKR_OK));
  }
}

TEST_F(InteropTest, Ed25519SignaturesVerifyInOpenSsl) {
  const KeyPair pair =
      GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, Tmpl().Bytes(CKA_EC_PARAMS, kEd25519Params), Tmpl());
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  const std::string point = OctetStringContents(Bytes(pair.public_key, CKA_EC_POINT));
  ASSERT_EQ(point.size(), 32u);
  Pkey public_key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, U(point), point.size()));
  ASSERT_NE(public_key, nullptr);
  const std::string signature = Sign(Mech(CKM_EDDSA), pair.private_key, kMessage);
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), nullptr, kMessage, signature));
  EXPECT_FALSE(OpenSslVerifyMessage(public_key.get(), nullptr, kMessage + ".", signature));
  // Pure Ed25519 is deterministic.
  EXPECT_EQ(Hex(Sign(Mech(CKM_EDDSA), pair.private_key, kMessage)), Hex(signature));
  EXPECT_THAT(Verify(Mech(CKM_EDDSA), pair.public_key, kMessage, signature), RvIs(CKR_OK));
}

// Encrypts with OpenSSL under the token's public key.
std::string OpenSslEncrypt(EVP_PKEY* key, const std::string& data, bool oaep, const std::string& label = "") {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  bool ok = EVP_PKEY_encrypt_init(ctx.get()) == 1;
  if (oaep) {
    ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) == 1;
    // OpenSSL takes ownership of the label.
    void* copy = OPENSSL_memdup(label.data(), label.size());
    ok = ok && EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, static_cast<int>(label.size())) == 1;
  } else {
    ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
  }
  size_t length = 0;
  ok = ok && EVP_PKEY_encrypt(ctx.get(), nullptr, &length, U(data), data.size()) == 1;
  std::string out(length, '\0');
  ok = ok && EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length, U(data),
                              data.size()) == 1;
  if (!ok) return "";
  out.resize(length);
  return out;
}

TEST_F(InteropTest, OpenSslEncryptsAndTheTokenDecrypts) {
  const KeyPair pair = GenerateRsa(2048, Tmpl().Bool(CKA_DECRYPT, true));
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  Pkey public_key = RsaPublicOf(pair.public_key);
  ASSERT_NE(public_key, nullptr);
  const std::string secret = "a session key, 32 bytes long...";

  const std::string v15 = OpenSslEncrypt(public_key.get(), secret, /*oaep=*/false);
  ASSERT_EQ(v15.size(), 256u);
  EXPECT_EQ(Decrypt(Mech(CKM_RSA_PKCS), pair.private_key, v15), secret);

  std::string label = "label bound to the ciphertext";
  const std::string oaep = OpenSslEncrypt(public_key.get(), secret, /*oaep=*/true, label);
  ASSERT_EQ(oaep.size(), 256u);
  CK_RSA_PKCS_OAEP_PARAMS params = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, In(label), label.size()};
  EXPECT_EQ(Decrypt(Mech(CKM_RSA_PKCS_OAEP, &params), pair.private_key, oaep), secret);
  // Another label does not decrypt it.
  std::string other = "another label";
  CK_RSA_PKCS_OAEP_PARAMS wrong = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, In(other), other.size()};
  CK_MECHANISM mechanism = Mech(CKM_RSA_PKCS_OAEP, &wrong);
  ASSERT_THAT(f_->C_DecryptInit(session_, &mechanism, pair.private_key), RvIs(CKR_OK));
  std::string out(256, '\0');
  CK_ULONG length = out.size();
  EXPECT_THAT(f_->C_Decrypt(session_, In(oaep), oaep.size(), In(out), &length),
              RvIs(CKR_ENCRYPTED_DATA_INVALID));
}

TEST_F(InteropTest, EcdhAgreesWithOpenSsl) {
  const KeyPair pair = GenerateEc(kP256Params, Tmpl().Bool(CKA_DERIVE, true));
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  Pkey token_public = EcPublicOf(pair.public_key, "P-256");
  ASSERT_NE(token_public, nullptr);
  Pkey peer(EVP_EC_gen("P-256"));
  ASSERT_NE(peer, nullptr);
  std::string peer_point = EcPoint(peer.get());
  ASSERT_EQ(peer_point.size(), 65u);

  CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, nullptr, peer_point.size(), In(peer_point)};
  CK_MECHANISM mechanism = Mech(CKM_ECDH1_DERIVE, &params);
  Tmpl t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).Bool(CKA_SENSITIVE, false)
      .Bool(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_DeriveKey(session_, &mechanism, pair.private_key, t.data(), t.size(), &derived), RvIs(CKR_OK));
  const std::string on_token = Bytes(derived, CKA_VALUE);

  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), token_public.get()), 1);
  size_t length = 0;
  ASSERT_EQ(EVP_PKEY_derive(ctx.get(), nullptr, &length), 1);
  std::string in_openssl(length, '\0');
  ASSERT_EQ(EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(in_openssl.data()), &length), 1);
  EXPECT_EQ(in_openssl.size(), 32u);
  EXPECT_EQ(Hex(on_token), Hex(in_openssl.substr(0, length)));
  EXPECT_FALSE(Bool(derived, CKA_LOCAL));

  // The peer point as a DER OCTET STRING (what some applications pass) agrees too.
  std::string der_point = std::string("\x04\x41", 2) + peer_point;
  CK_ECDH1_DERIVE_PARAMS der_params = {CKD_NULL, 0, nullptr, der_point.size(), In(der_point)};
  mechanism = Mech(CKM_ECDH1_DERIVE, &der_params);
  CK_OBJECT_HANDLE again = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_DeriveKey(session_, &mechanism, pair.private_key, t.data(), t.size(), &again), RvIs(CKR_OK));
  EXPECT_EQ(Hex(Bytes(again, CKA_VALUE)), Hex(in_openssl));

  // CKA_VALUE_LEN shorter than the secret: CKD_NULL keeps its trailing bytes
  // (truncation "from the leading end", as SoftHSM does too).
  Tmpl aes;
  aes.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Ulong(CKA_VALUE_LEN, 16)
      .Bool(CKA_SENSITIVE, false).Bool(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE aes_key = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_DeriveKey(session_, &mechanism, pair.private_key, aes.data(), aes.size(), &aes_key),
              RvIs(CKR_OK));
  EXPECT_EQ(Hex(Bytes(aes_key, CKA_VALUE)), Hex(in_openssl.substr(16)));
}

// OpenSSL signs with its own keys; the token verifies with the public keys
// imported as objects (the other direction of the tests above).
TEST_F(InteropTest, TokenVerifiesOpenSslSignaturesWithImportedPublicKeys) {
  auto openssl_sign = [](EVP_PKEY* key, const char* md, const std::string& data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t length = 0;
    std::string signature;
    if (EVP_DigestSignInit_ex(ctx, nullptr, md, nullptr, nullptr, key, nullptr) == 1 &&
        EVP_DigestSign(ctx, nullptr, &length, U(data), data.size()) == 1) {
      signature.resize(length);
      if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length, U(data), data.size()) != 1) {
        length = 0;
      }
      signature.resize(length);
    }
    EVP_MD_CTX_free(ctx);
    return signature;
  };
  auto bn = [](EVP_PKEY* key, const char* name) {
    BIGNUM* value = nullptr;
    EVP_PKEY_get_bn_param(key, name, &value);
    std::string out(BN_num_bytes(value), '\0');
    BN_bn2bin(value, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(value);
    return out;
  };

  Pkey rsa(EVP_RSA_gen(2048));
  ASSERT_NE(rsa, nullptr);
  const CK_OBJECT_HANDLE rsa_public = Create(Tmpl().Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA)
                                                 .Bytes(CKA_MODULUS, bn(rsa.get(), OSSL_PKEY_PARAM_RSA_N))
                                                 .Bytes(CKA_PUBLIC_EXPONENT, bn(rsa.get(), OSSL_PKEY_PARAM_RSA_E)));
  EXPECT_EQ(Ulong(rsa_public, CKA_MODULUS_BITS), 2048u);
  const std::string rsa_signature = openssl_sign(rsa.get(), "SHA256", kMessage);
  EXPECT_THAT(Verify(Mech(CKM_SHA256_RSA_PKCS), rsa_public, kMessage, rsa_signature), RvIs(CKR_OK));
  EXPECT_THAT(Verify(Mech(CKM_SHA256_RSA_PKCS), rsa_public, kMessage + ".", rsa_signature),
              RvIs(CKR_SIGNATURE_INVALID));

  Pkey ec(EVP_EC_gen("P-256"));
  ASSERT_NE(ec, nullptr);
  const CK_OBJECT_HANDLE ec_public = Create(Tmpl().Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_EC)
                                                .Bytes(CKA_EC_PARAMS, kP256Params)
                                                .Bytes(CKA_EC_POINT, std::string("\x04\x41", 2) + EcPoint(ec.get())));
  // OpenSSL's DER signature, as r || s for PKCS #11.
  const std::string der = openssl_sign(ec.get(), "SHA256", kMessage);
  const unsigned char* p = U(der);
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, der.size());
  ASSERT_NE(sig, nullptr);
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  EXPECT_THAT(Verify(Mech(CKM_ECDSA_SHA256), ec_public, kMessage, raw), RvIs(CKR_OK));

  Pkey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed, nullptr);
  std::string ed_point(32, '\0');
  size_t ed_length = ed_point.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(ed.get(), reinterpret_cast<unsigned char*>(ed_point.data()), &ed_length), 1);
  const CK_OBJECT_HANDLE ed_public =
      Create(Tmpl().Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                 .Bytes(CKA_EC_PARAMS, kEd25519Params).Bytes(CKA_EC_POINT, std::string("\x04\x20", 2) + ed_point));
  const std::string ed_signature = openssl_sign(ed.get(), nullptr, kMessage);
  ASSERT_EQ(ed_signature.size(), 64u);
  EXPECT_THAT(Verify(Mech(CKM_EDDSA), ed_public, kMessage, ed_signature), RvIs(CKR_OK));
}

TEST_F(InteropTest, VerifyRecoverReturnsTheSignedDigestInfo) {
  const KeyPair pair = GenerateRsa();
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  const std::string digest_info = Sha256DigestInfo(Sha256(kMessage));
  const std::string signature = Sign(Mech(CKM_RSA_PKCS), pair.private_key, digest_info);
  CK_MECHANISM mechanism = Mech(CKM_RSA_PKCS);
  ASSERT_THAT(f_->C_VerifyRecoverInit(session_, &mechanism, pair.public_key), RvIs(CKR_OK));
  EXPECT_EQ(Hex(Output(f_->C_VerifyRecover, signature)), Hex(digest_info));
  // A signature by another key recovers nothing.
  const KeyPair other = GenerateRsa();
  const std::string foreign = Sign(Mech(CKM_RSA_PKCS), other.private_key, digest_info);
  ASSERT_THAT(f_->C_VerifyRecoverInit(session_, &mechanism, pair.public_key), RvIs(CKR_OK));
  std::string out(256, '\0');
  CK_ULONG length = out.size();
  EXPECT_THAT(f_->C_VerifyRecover(session_, In(foreign), foreign.size(), In(out), &length),
              RvIs(CKR_SIGNATURE_INVALID));
}

TEST_F(InteropTest, SignRecoverRoundTripsAndOpenSslRecoversTheSameData) {
  const KeyPair pair = GenerateRsa();
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  const std::string data = "short data signed with recovery";
  CK_MECHANISM mechanism = Mech(CKM_RSA_PKCS);
  ASSERT_THAT(f_->C_SignRecoverInit(session_, &mechanism, pair.private_key), RvIs(CKR_OK));
  const std::string signature = Output(f_->C_SignRecover, data);
  ASSERT_EQ(signature.size(), 256u);
  // Signing with recovery and plain CKM_RSA_PKCS signing are the same operation.
  EXPECT_EQ(Hex(signature), Hex(Sign(Mech(CKM_RSA_PKCS), pair.private_key, data)));
  ASSERT_THAT(f_->C_VerifyRecoverInit(session_, &mechanism, pair.public_key), RvIs(CKR_OK));
  EXPECT_EQ(Output(f_->C_VerifyRecover, signature), data);
  Pkey public_key = RsaPublicOf(pair.public_key);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, public_key.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_verify_recover_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING), 1);
  std::string recovered(256, '\0');
  size_t length = recovered.size();
  ASSERT_EQ(EVP_PKEY_verify_recover(ctx.get(), reinterpret_cast<unsigned char*>(recovered.data()), &length,
                                    U(signature), signature.size()),
            1);
  EXPECT_EQ(recovered.substr(0, length), data);
}

TEST_F(InteropTest, EcdsaTruncatesAHashLongerThanTheOrderAsOpenSslDoes) {
  // CKM_ECDSA on P-256 over a SHA-512 hash: ANSI X9.62 keeps its leftmost 256 bits.
  const KeyPair pair = GenerateEc(kP256Params);
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  Pkey public_key = EcPublicOf(pair.public_key, "P-256");
  const std::string hash = Digest(CKM_SHA512, kMessage);
  ASSERT_EQ(hash.size(), 64u);
  const std::string raw = Sign(Mech(CKM_ECDSA), pair.private_key, hash);
  ASSERT_EQ(raw.size(), 64u);
  EXPECT_TRUE(OpenSslVerifyHash(public_key.get(), nullptr, hash, EcdsaRawToDer(raw)));
  EXPECT_TRUE(OpenSslVerifyHash(public_key.get(), nullptr, hash.substr(0, 32), EcdsaRawToDer(raw)));
  EXPECT_THAT(Verify(Mech(CKM_ECDSA), pair.public_key, hash, raw), RvIs(CKR_OK));
}

// SunPKCS11's Signature.update()/sign(): SignUpdate in pieces, then SignFinal
// with a buffer sized from the key.
TEST_F(InteropTest, MultiPartSha256RsaPkcsAsSunPkcs11SignsIt) {
  const KeyPair pair = GenerateRsa();
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  std::string data(10000, '\0');
  ASSERT_EQ(RAND_bytes(reinterpret_cast<unsigned char*>(data.data()), data.size()), 1);
  CK_MECHANISM mechanism = Mech(CKM_SHA256_RSA_PKCS);
  ASSERT_THAT(f_->C_SignInit(session_, &mechanism, pair.private_key), RvIs(CKR_OK));
  for (size_t at = 0; at < data.size(); at += 4096) {
    const std::string part = data.substr(at, 4096);
    ASSERT_THAT(f_->C_SignUpdate(session_, In(part), part.size()), RvIs(CKR_OK));
  }
  std::string signature(256, '\0');
  CK_ULONG length = signature.size();
  ASSERT_THAT(f_->C_SignFinal(session_, In(signature), &length), RvIs(CKR_OK));
  ASSERT_EQ(length, 256u);
  Pkey public_key = RsaPublicOf(pair.public_key);
  EXPECT_TRUE(OpenSslVerifyMessage(public_key.get(), "SHA256", data, signature));
  EXPECT_EQ(Hex(signature), Hex(Sign(Mech(CKM_SHA256_RSA_PKCS), pair.private_key, data)));
  // Multi-part verification on the token agrees.
  ASSERT_THAT(f_->C_VerifyInit(session_, &mechanism, pair.public_key), RvIs(CKR_OK));
  for (size_t at = 0; at < data.size(); at += 3000) {
    const std::string part = data.substr(at, 3000);
    ASSERT_THAT(f_->C_VerifyUpdate(session_, In(part), part.size()), RvIs(CKR_OK));
  }
  EXPECT_THAT(f_->C_VerifyFinal(session_, In(signature), signature.size()), RvIs(CKR_OK));
}

}  // namespace
}  // namespace hsm::testing
