// Key generation through the real library: what a client reads back from
// generated keys (PKCS #11 2.40 sections 4.8 to 4.10 and 2.1 to 2.3 of the
// mechanisms document), the protections generated keys are born with,
// wrapping a private key out and back in, and keys surviving an hsmd restart.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <vector>

#include "tests/integration/crypto_support.h"

namespace hsm::testing {
namespace {

using KeyGenerationTest = CryptoTest;

// The value of a sensitive attribute stays hidden; its length too.
void ExpectSensitive(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_ATTRIBUTE_TYPE type) {
  char buffer[1024];
  CK_ATTRIBUTE attribute = {type, buffer, sizeof(buffer)};
  EXPECT_THAT(f->C_GetAttributeValue(session, key, &attribute, 1), RvIs(CKR_ATTRIBUTE_SENSITIVE)) << type;
  EXPECT_EQ(attribute.ulValueLen, CK_UNAVAILABLE_INFORMATION) << type;
}

TEST_F(KeyGenerationTest, RsaKeyPairShowsItsPublicPartsAndHidesItsPrivateOnes) {
  const KeyPair pair = GenerateKeyPair(
      CKM_RSA_PKCS_KEY_PAIR_GEN,
      Tmpl().Ulong(CKA_MODULUS_BITS, 2048).Bytes(CKA_PUBLIC_EXPONENT, Unhex("010001")).Bytes(CKA_ID, "rsa-id-1")
          .Bool(CKA_VERIFY, true),
      Tmpl().Bytes(CKA_ID, "rsa-id-1").Bool(CKA_SIGN, true).Bytes(CKA_LABEL, "generated rsa"));
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);

  const std::string modulus = Bytes(pair.public_key, CKA_MODULUS);
  ASSERT_EQ(modulus.size(), 256u);
  EXPECT_NE(static_cast<unsigned char>(modulus[0]) & 0x80, 0) << "a 2048-bit modulus has its top bit set";
  EXPECT_EQ(Hex(Bytes(pair.public_key, CKA_PUBLIC_EXPONENT)), "010001");
  EXPECT_EQ(Ulong(pair.public_key, CKA_MODULUS_BITS), 2048u);
  EXPECT_EQ(Ulong(pair.public_key, CKA_CLASS), static_cast<CK_ULONG>(CKO_PUBLIC_KEY));
  EXPECT_EQ(Ulong(pair.public_key, CKA_KEY_TYPE), static_cast<CK_ULONG>(CKK_RSA));
  EXPECT_EQ(Bytes(pair.public_key, CKA_ID), "rsa-id-1");

  // The private key carries the public values, for applications that only keep it.
  EXPECT_EQ(Bytes(pair.private_key, CKA_MODULUS), modulus);
  EXPECT_EQ(Hex(Bytes(pair.private_key, CKA_PUBLIC_EXPONENT)), "010001");
  EXPECT_EQ(Bytes(pair.private_key, CKA_ID), "rsa-id-1");
  EXPECT_EQ(Bytes(pair.private_key, CKA_LABEL), "generated rsa");
  for (CK_OBJECT_HANDLE key : {pair.public_key, pair.private_key}) {
    EXPECT_TRUE(Bool(key, CKA_LOCAL));
    EXPECT_EQ(Ulong(key, CKA_KEY_GEN_MECHANISM), static_cast<CK_ULONG>(CKM_RSA_PKCS_KEY_PAIR_GEN));
  }
  // Defaults of a private key: private, sensitive, not extractable, and so since birth.
  EXPECT_TRUE(Bool(pair.private_key, CKA_PRIVATE));
  EXPECT_TRUE(Bool(pair.private_key, CKA_SENSITIVE));
  EXPECT_FALSE(Bool(pair.private_key, CKA_EXTRACTABLE));
  EXPECT_TRUE(Bool(pair.private_key, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(Bool(pair.private_key, CKA_NEVER_EXTRACTABLE));
  for (CK_ATTRIBUTE_TYPE secret : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
                                   CKA_COEFFICIENT}) {
    ExpectSensitive(f_, session_, pair.private_key, secret);
  }
  // The pair works together.
  const std::string signature = Sign(Mech(CKM_SHA256_RSA_PKCS), pair.private_key, "data");
  EXPECT_EQ(signature.size(), 256u);
  EXPECT_THAT(Verify(Mech(CKM_SHA256_RSA_PKCS), pair.public_key, "data", signature), RvIs(CKR_OK));
}

TEST_F(KeyGenerationTest, RsaPublicExponentComesFromTheTemplate) {
  // e = 3: if the token only echoed the attribute, OpenSSL's verification
  // with the exponent read back would fail.
  const KeyPair pair = GenerateKeyPair(
      CKM_RSA_PKCS_KEY_PAIR_GEN, Tmpl().Ulong(CKA_MODULUS_BITS, 2048).Bytes(CKA_PUBLIC_EXPONENT, "\x03"), Tmpl());
  EXPECT_EQ(Hex(Bytes(pair.public_key, CKA_PUBLIC_EXPONENT)), "03");
  Pkey openssl_key = RsaPublicOf(pair.public_key);
  ASSERT_NE(openssl_key, nullptr);
  const std::string signature = Sign(Mech(CKM_SHA256_RSA_PKCS), pair.private_key, "exponent three");
  EXPECT_TRUE(OpenSslVerifyMessage(openssl_key.get(), "SHA256", "exponent three", signature));
  // An even exponent is not an RSA exponent.
  CK_MECHANISM mechanism = Mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
  Tmpl bad_public;
  bad_public.Ulong(CKA_MODULUS_BITS, 2048).Bytes(CKA_PUBLIC_EXPONENT, "\x04");
  KeyPair ignored;
  EXPECT_THAT(f_->C_GenerateKeyPair(session_, &mechanism, bad_public.data(), bad_public.size(), nullptr, 0,
                                    &ignored.public_key, &ignored.private_key),
              RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
}

struct CurveCase {
  const char* group;  // OpenSSL's name
  std::string params;
  size_t field_bytes;
  std::string point_header;  // OCTET STRING tag and length, then 0x04 (uncompressed)
};

TEST_F(KeyGenerationTest, EcKeyPairsOnP256P384AndP521) {
  const std::vector<CurveCase> curves = {
      {"P-256", kP256Params, 32, Unhex("044104")},
      {"P-384", kP384Params, 48, Unhex("046104")},
      {"P-521", kP521Params, 66, Unhex("04818504")},
  };
  for (const CurveCase& curve : curves) {
    SCOPED_TRACE(curve.group);
    const KeyPair pair = GenerateEc(curve.params, Tmpl().Bytes(CKA_ID, std::string("ec-") + curve.group));
    ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
    EXPECT_EQ(Hex(Bytes(pair.public_key, CKA_EC_PARAMS)), Hex(curve.params));
    EXPECT_EQ(Hex(Bytes(pair.private_key, CKA_EC_PARAMS)), Hex(curve.params));
    // CKA_EC_POINT: DER OCTET STRING of 0x04 || X || Y.
    const std::string ec_point = Bytes(pair.public_key, CKA_EC_POINT);
    EXPECT_EQ(ec_point.size(), curve.point_header.size() + 2 * curve.field_bytes);
    EXPECT_EQ(Hex(ec_point.substr(0, curve.point_header.size())), Hex(curve.point_header));
    // The point is on the curve: OpenSSL accepts it as a public key.
    Pkey openssl_key = EcPublicOf(pair.public_key, curve.group);
    ASSERT_NE(openssl_key, nullptr);
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, openssl_key.get(), nullptr));
    EXPECT_EQ(EVP_PKEY_public_check(check.get()), 1);
    EXPECT_EQ(Ulong(pair.private_key, CKA_KEY_TYPE), static_cast<CK_ULONG>(CKK_EC));
    EXPECT_EQ(Bytes(pair.private_key, CKA_ID), std::string("ec-") + curve.group);
    for (CK_OBJECT_HANDLE key : {pair.public_key, pair.private_key}) {
      EXPECT_TRUE(Bool(key, CKA_LOCAL));
      EXPECT_EQ(Ulong(key, CKA_KEY_GEN_MECHANISM), static_cast<CK_ULONG>(CKM_EC_KEY_PAIR_GEN));
    }
    EXPECT_TRUE(Bool(pair.private_key, CKA_ALWAYS_SENSITIVE));
    EXPECT_TRUE(Bool(pair.private_key, CKA_NEVER_EXTRACTABLE));
    ExpectSensitive(f_, session_, pair.private_key, CKA_VALUE);
  }
}

TEST_F(KeyGenerationTest, UnknownCurveIsRefused) {
  CK_MECHANISM mechanism = Mech(CKM_EC_KEY_PAIR_GEN);
  Tmpl secp256k1;
  secp256k1.Bytes(CKA_EC_PARAMS, Unhex("06052b8104000a"));
  KeyPair ignored;
  const CK_RV rv = f_->C_GenerateKeyPair(session_, &mechanism, secp256k1.data(), secp256k1.size(), nullptr, 0,
                                         &ignored.public_key, &ignored.private_key);
  EXPECT_THAT(rv, RvIs(CKR_CURVE_NOT_SUPPORTED));
}

TEST_F(KeyGenerationTest, Ed25519KeyPair) {
  const KeyPair pair =
      GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, Tmpl().Bytes(CKA_EC_PARAMS, kEd25519Params), Tmpl());
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  EXPECT_EQ(Ulong(pair.public_key, CKA_KEY_TYPE), static_cast<CK_ULONG>(CKK_EC_EDWARDS));
  EXPECT_EQ(Ulong(pair.private_key, CKA_KEY_TYPE), static_cast<CK_ULONG>(CKK_EC_EDWARDS));
  EXPECT_EQ(Hex(Bytes(pair.public_key, CKA_EC_PARAMS)), Hex(kEd25519Params));
  const std::string ec_point = Bytes(pair.public_key, CKA_EC_POINT);
  ASSERT_EQ(ec_point.size(), 34u);
  EXPECT_EQ(Hex(ec_point.substr(0, 2)), "0420");
  EXPECT_EQ(Ulong(pair.private_key, CKA_KEY_GEN_MECHANISM), static_cast<CK_ULONG>(CKM_EC_EDWARDS_KEY_PAIR_GEN));
  EXPECT_TRUE(Bool(pair.private_key, CKA_LOCAL));
  EXPECT_TRUE(Bool(pair.private_key, CKA_NEVER_EXTRACTABLE));
  ExpectSensitive(f_, session_, pair.private_key, CKA_VALUE);
  // An Edwards curve is not for the Weierstrass mechanism.
  CK_MECHANISM weierstrass = Mech(CKM_EC_KEY_PAIR_GEN);
  Tmpl edwards;
  edwards.Bytes(CKA_EC_PARAMS, kEd25519Params);
  KeyPair ignored;
  EXPECT_THAT(f_->C_GenerateKeyPair(session_, &weierstrass, edwards.data(), edwards.size(), nullptr, 0,
                                    &ignored.public_key, &ignored.private_key),
              RvIs(CKR_CURVE_NOT_SUPPORTED));
}

TEST_F(KeyGenerationTest, Aes256Key) {
  CK_MECHANISM mechanism = Mech(CKM_AES_KEY_GEN);
  Tmpl t;
  t.Ulong(CKA_VALUE_LEN, 32).Bytes(CKA_ID, "aes-id").Bool(CKA_ENCRYPT, true).Bool(CKA_DECRYPT, true);
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_GenerateKey(session_, &mechanism, t.data(), t.size(), &key), RvIs(CKR_OK));
  EXPECT_EQ(Ulong(key, CKA_CLASS), static_cast<CK_ULONG>(CKO_SECRET_KEY));
  EXPECT_EQ(Ulong(key, CKA_KEY_TYPE), static_cast<CK_ULONG>(CKK_AES));
  EXPECT_EQ(Ulong(key, CKA_VALUE_LEN), 32u);
  EXPECT_EQ(Bytes(key, CKA_ID), "aes-id");
  EXPECT_TRUE(Bool(key, CKA_LOCAL));
  EXPECT_EQ(Ulong(key, CKA_KEY_GEN_MECHANISM), static_cast<CK_ULONG>(CKM_AES_KEY_GEN));
  EXPECT_TRUE(Bool(key, CKA_SENSITIVE));
  EXPECT_FALSE(Bool(key, CKA_EXTRACTABLE));
  EXPECT_TRUE(Bool(key, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(Bool(key, CKA_NEVER_EXTRACTABLE));
  ExpectSensitive(f_, session_, key, CKA_VALUE);
  std::string iv(16, '\x01');
  const std::string ciphertext = Encrypt(Mech(CKM_AES_CBC_PAD, In(iv), iv.size()), key, "secret message");
  EXPECT_EQ(Decrypt(Mech(CKM_AES_CBC_PAD, In(iv), iv.size()), key, ciphertext), "secret message");

  // Readable generated keys: 32 bytes each, and two draws differ.
  Tmpl readable;
  readable.Ulong(CKA_VALUE_LEN, 32).Bool(CKA_SENSITIVE, false).Bool(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE first, second;
  ASSERT_THAT(f_->C_GenerateKey(session_, &mechanism, readable.data(), readable.size(), &first), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_GenerateKey(session_, &mechanism, readable.data(), readable.size(), &second), RvIs(CKR_OK));
  EXPECT_EQ(Bytes(first, CKA_VALUE).size(), 32u);
  EXPECT_NE(Bytes(first, CKA_VALUE), Bytes(second, CKA_VALUE));
  EXPECT_FALSE(Bool(first, CKA_ALWAYS_SENSITIVE));
  EXPECT_FALSE(Bool(first, CKA_NEVER_EXTRACTABLE));
  // 20 bytes is no AES key.
  Tmpl bad;
  bad.Ulong(CKA_VALUE_LEN, 20);
  CK_OBJECT_HANDLE ignored;
  EXPECT_THAT(f_->C_GenerateKey(session_, &mechanism, bad.data(), bad.size(), &ignored),
              RvIs(CKR_KEY_SIZE_RANGE));
}

TEST_F(KeyGenerationTest, WrappedRsaPrivateKeyUnwrapsIntoAWorkingKey) {
  const KeyPair pair = GenerateRsa(2048, Tmpl().Bool(CKA_EXTRACTABLE, true));
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  // Extractable since birth no more: NEVER_EXTRACTABLE is false.
  EXPECT_FALSE(Bool(pair.private_key, CKA_NEVER_EXTRACTABLE));
  const CK_OBJECT_HANDLE kek =
      ImportSecret(CKK_AES, std::string(32, '\x42'), Tmpl().Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true));
  const std::string wrapped = Wrap(Mech(CKM_AES_KEY_WRAP_PAD), kek, pair.private_key);
  // PKCS #8 of an RSA-2048 key is over a kilobyte; KWP adds 8 bytes and pads to 8.
  EXPECT_GT(wrapped.size(), 1100u);
  EXPECT_EQ(wrapped.size() % 8, 0u);
  // The unwrapping key decrypts it back to PKCS #8: a DER SEQUENCE.
  const CK_OBJECT_HANDLE plain_kek =
      ImportSecret(CKK_AES, std::string(32, '\x42'), Tmpl().Bool(CKA_DECRYPT, true));
  CK_MECHANISM kwp = Mech(CKM_AES_KEY_WRAP_PAD);
  ASSERT_THAT(f_->C_DecryptInit(session_, &kwp, plain_kek), RvIs(CKR_OK));
  const std::string pkcs8 = Output(f_->C_Decrypt, wrapped);
  const unsigned char* der = U(pkcs8);
  Pkey inside(d2i_AutoPrivateKey(nullptr, &der, pkcs8.size()));
  ASSERT_NE(inside, nullptr) << "not a PKCS #8 private key";
  BIGNUM* n = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(inside.get(), OSSL_PKEY_PARAM_RSA_N, &n), 1);
  std::string inside_modulus(BN_num_bytes(n), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(inside_modulus.data()));
  BN_free(n);
  EXPECT_EQ(Hex(inside_modulus), Hex(Bytes(pair.public_key, CKA_MODULUS)));

  Tmpl t;
  t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA).Bool(CKA_SIGN, true).Bytes(CKA_LABEL, "unwrapped");
  CK_OBJECT_HANDLE unwrapped = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_UnwrapKey(session_, &kwp, kek, In(wrapped), wrapped.size(), t.data(), t.size(), &unwrapped),
              RvIs(CKR_OK));
  EXPECT_EQ(Bytes(unwrapped, CKA_MODULUS), Bytes(pair.public_key, CKA_MODULUS));
  EXPECT_FALSE(Bool(unwrapped, CKA_LOCAL));
  EXPECT_FALSE(Bool(unwrapped, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(Bool(unwrapped, CKA_SENSITIVE));
  ExpectSensitive(f_, session_, unwrapped, CKA_PRIVATE_EXPONENT);
  const std::string signature = Sign(Mech(CKM_SHA256_RSA_PKCS), unwrapped, "signed by the unwrapped key");
  EXPECT_THAT(Verify(Mech(CKM_SHA256_RSA_PKCS), pair.public_key, "signed by the unwrapped key", signature),
              RvIs(CKR_OK));
}

// EC and Ed25519 private keys leave as PKCS #8 too, and come back with their
// curve; secret keys travel under RSA-OAEP and AES-CBC-PAD as well.
TEST_F(KeyGenerationTest, WrappedEcAndEd25519KeysAndOtherWrapMechanisms) {
  const CK_OBJECT_HANDLE kek =
      ImportSecret(CKK_AES, std::string(16, '\x24'), Tmpl().Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true));
  CK_MECHANISM kwp = Mech(CKM_AES_KEY_WRAP_PAD);
  struct Case {
    const char* name;
    CK_MECHANISM_TYPE generation, signing;
    CK_KEY_TYPE key_type;
    std::string params;
  };
  for (const Case& c : {Case{"P-256", CKM_EC_KEY_PAIR_GEN, CKM_ECDSA_SHA256, CKK_EC, kP256Params},
                        Case{"Ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, CKK_EC_EDWARDS, kEd25519Params}}) {
    SCOPED_TRACE(c.name);
    const KeyPair pair =
        GenerateKeyPair(c.generation, Tmpl().Bytes(CKA_EC_PARAMS, c.params), Tmpl().Bool(CKA_EXTRACTABLE, true));
    ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
    const std::string wrapped = Wrap(kwp, kek, pair.private_key);
    ASSERT_FALSE(wrapped.empty());
    Tmpl t;
    t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Ulong(CKA_KEY_TYPE, c.key_type).Bool(CKA_SIGN, true);
    CK_OBJECT_HANDLE unwrapped = CK_INVALID_HANDLE;
    ASSERT_THAT(f_->C_UnwrapKey(session_, &kwp, kek, In(wrapped), wrapped.size(), t.data(), t.size(), &unwrapped),
                RvIs(CKR_OK));
    EXPECT_EQ(Hex(Bytes(unwrapped, CKA_EC_PARAMS)), Hex(c.params));
    ExpectSensitive(f_, session_, unwrapped, CKA_VALUE);
    const std::string signature = Sign(Mech(c.signing), unwrapped, "signed after unwrapping");
    EXPECT_THAT(Verify(Mech(c.signing), pair.public_key, "signed after unwrapping", signature), RvIs(CKR_OK));
    // The key type in the template must be the wrapped key's.
    Tmpl wrong;
    wrong.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA);
    CK_OBJECT_HANDLE ignored;
    EXPECT_THAT(
        f_->C_UnwrapKey(session_, &kwp, kek, In(wrapped), wrapped.size(), wrong.data(), wrong.size(), &ignored),
        RvIs(CKR_TEMPLATE_INCONSISTENT));
  }

  const std::string secret = Unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, secret, Tmpl().Bool(CKA_EXTRACTABLE, true));
  Tmpl readable;
  readable.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_SENSITIVE, false)
      .Bool(CKA_EXTRACTABLE, true);
  // RSA-OAEP: wrapped with the public key, unwrapped with the private key.
  const KeyPair rsa = GenerateRsa(2048, Tmpl().Bool(CKA_UNWRAP, true));
  CK_RSA_PKCS_OAEP_PARAMS oaep_params = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM oaep = Mech(CKM_RSA_PKCS_OAEP, &oaep_params);
  const std::string under_rsa = Wrap(oaep, rsa.public_key, key);
  EXPECT_EQ(under_rsa.size(), 256u);
  CK_OBJECT_HANDLE from_rsa = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_UnwrapKey(session_, &oaep, rsa.private_key, In(under_rsa), under_rsa.size(), readable.data(),
                              readable.size(), &from_rsa),
              RvIs(CKR_OK));
  EXPECT_EQ(Hex(Bytes(from_rsa, CKA_VALUE)), Hex(secret));
  // AES-CBC-PAD under the KEK.
  std::string iv(16, '\x07');
  CK_MECHANISM cbc_pad = Mech(CKM_AES_CBC_PAD, In(iv), iv.size());
  const std::string under_cbc = Wrap(cbc_pad, kek, key);
  EXPECT_EQ(under_cbc.size(), 48u);
  CK_OBJECT_HANDLE from_cbc = CK_INVALID_HANDLE;
  ASSERT_THAT(f_->C_UnwrapKey(session_, &cbc_pad, kek, In(under_cbc), under_cbc.size(), readable.data(),
                              readable.size(), &from_cbc),
              RvIs(CKR_OK));
  EXPECT_EQ(Hex(Bytes(from_cbc, CKA_VALUE)), Hex(secret));
}

TEST_F(KeyGenerationTest, TokenKeysSurviveAnHsmdRestart) {
  const KeyPair pair = GenerateKeyPair(
      CKM_RSA_PKCS_KEY_PAIR_GEN,
      Tmpl().Bool(CKA_TOKEN, true).Ulong(CKA_MODULUS_BITS, 2048).Bytes(CKA_PUBLIC_EXPONENT, Unhex("010001"))
          .Bytes(CKA_ID, "kept-rsa"),
      Tmpl().Bool(CKA_TOKEN, true).Bytes(CKA_ID, "kept-rsa"));
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  const std::string modulus = Bytes(pair.public_key, CKA_MODULUS);

  ASSERT_THAT(f_->C_Finalize(nullptr), RvIs(CKR_OK));
  ASSERT_TRUE(hsmd_->Restart());
  ASSERT_THAT(f_->C_Initialize(nullptr), RvIs(CKR_OK));
  session_ = Open();
  ASSERT_THAT(Login(session_, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));

  // Found again by CKA_ID, as applications do.
  Tmpl query;
  query.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Bytes(CKA_ID, "kept-rsa");
  ASSERT_THAT(f_->C_FindObjectsInit(session_, query.data(), query.size()), RvIs(CKR_OK));
  CK_OBJECT_HANDLE found[4];
  CK_ULONG count = 0;
  ASSERT_THAT(f_->C_FindObjects(session_, found, 4, &count), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_FindObjectsFinal(session_), RvIs(CKR_OK));
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(found[0], pair.private_key);
  EXPECT_TRUE(Bool(pair.private_key, CKA_LOCAL));
  EXPECT_TRUE(Bool(pair.private_key, CKA_NEVER_EXTRACTABLE));

  const std::string signature = Sign(Mech(CKM_SHA256_RSA_PKCS), pair.private_key, "after the restart");
  EXPECT_THAT(Verify(Mech(CKM_SHA256_RSA_PKCS), pair.public_key, "after the restart", signature), RvIs(CKR_OK));
  Pkey openssl_key = RsaPublicKey(modulus, Unhex("010001"));
  EXPECT_TRUE(OpenSslVerifyMessage(openssl_key.get(), "SHA256", "after the restart", signature));
}

}  // namespace
}  // namespace hsm::testing
