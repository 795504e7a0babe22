// The rules around cryptographic operations, through the real library: what a
// key may do (its usage attributes, its type), mechanism parameters, input
// lengths, bad signatures, the operation life cycle (PKCS #11 2.40 section
// 5.2: active, not initialized, ended by an error), wrapping protections, and
// private keys that vanish with the login.
#include <vector>

#include "tests/integration/crypto_support.h"

namespace hsm::testing {
namespace {

using RulesTest = CryptoTest;

const CK_MECHANISM_TYPE kUnknownMechanism = CKM_VENDOR_DEFINED | 0x4d4d;

TEST_F(RulesTest, KeyUsageAttributesAreEnforced) {
  const KeyPair pair = GenerateKeyPair(
      CKM_RSA_PKCS_KEY_PAIR_GEN,
      Tmpl().Ulong(CKA_MODULUS_BITS, 2048).Bool(CKA_VERIFY, false).Bool(CKA_ENCRYPT, false),
      Tmpl().Bool(CKA_SIGN, false).Bool(CKA_DECRYPT, false));
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  CK_MECHANISM sha256_rsa = Mech(CKM_SHA256_RSA_PKCS);
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa, pair.private_key), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  EXPECT_THAT(f_->C_VerifyInit(session_, &sha256_rsa, pair.public_key), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  EXPECT_THAT(f_->C_EncryptInit(session_, &rsa_pkcs, pair.public_key), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  EXPECT_THAT(f_->C_DecryptInit(session_, &rsa_pkcs, pair.private_key), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  // The refused Init left nothing active: a permitted key starts at once.
  const KeyPair allowed = GenerateRsa();
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa, allowed.private_key), RvIs(CKR_OK));

  // Secret keys too; and an ECDH base key needs CKA_DERIVE (false by default).
  std::string iv(16, '\0');
  CK_MECHANISM cbc = Mech(CKM_AES_CBC, In(iv), iv.size());
  const CK_OBJECT_HANDLE aes =
      ImportSecret(CKK_AES, std::string(16, 'k'), Tmpl().Bool(CKA_ENCRYPT, false).Bool(CKA_WRAP, false));
  EXPECT_THAT(f_->C_EncryptInit(session_, &cbc, aes), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  const CK_OBJECT_HANDLE other = ImportSecret(CKK_AES, std::string(16, 'o'), Tmpl().Bool(CKA_EXTRACTABLE, true));
  CK_MECHANISM key_wrap = Mech(CKM_AES_KEY_WRAP);
  CK_ULONG length = 0;
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, aes, other, nullptr, &length), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  const KeyPair ec = GenerateEc(kP256Params);
  std::string point = OctetStringContents(Bytes(ec.public_key, CKA_EC_POINT));
  CK_ECDH1_DERIVE_PARAMS ecdh = {CKD_NULL, 0, nullptr, point.size(), In(point)};
  CK_MECHANISM derive = Mech(CKM_ECDH1_DERIVE, &ecdh);
  Tmpl t;
  t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  CK_OBJECT_HANDLE derived;
  EXPECT_THAT(f_->C_DeriveKey(session_, &derive, ec.private_key, t.data(), t.size(), &derived),
              RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
}

// CKA_ALLOWED_MECHANISMS holds for every use of the key: operations, and
// wrapping, unwrapping and deriving with it.
TEST_F(RulesTest, AllowedMechanismsAreEnforced) {
  const CK_OBJECT_HANDLE kek = ImportSecret(
      CKK_AES, std::string(16, 'w'),
      Tmpl().Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true).Mechanisms(CKA_ALLOWED_MECHANISMS, {CKM_AES_KEY_WRAP_PAD}));
  CK_MECHANISM_TYPE listed[4] = {};
  CK_ATTRIBUTE read = {CKA_ALLOWED_MECHANISMS, listed, sizeof(listed)};
  ASSERT_THAT(f_->C_GetAttributeValue(session_, kek, &read, 1), RvIs(CKR_OK));
  ASSERT_EQ(read.ulValueLen, sizeof(CK_MECHANISM_TYPE));
  EXPECT_EQ(listed[0], static_cast<CK_MECHANISM_TYPE>(CKM_AES_KEY_WRAP_PAD));

  CK_MECHANISM ecb = Mech(CKM_AES_ECB);
  EXPECT_THAT(f_->C_EncryptInit(session_, &ecb, kek), RvIs(CKR_MECHANISM_INVALID));
  const CK_OBJECT_HANDLE key = ImportSecret(CKK_AES, std::string(16, 'k'), Tmpl().Bool(CKA_EXTRACTABLE, true));
  CK_MECHANISM key_wrap = Mech(CKM_AES_KEY_WRAP);
  CK_MECHANISM kwp = Mech(CKM_AES_KEY_WRAP_PAD);
  CK_ULONG length = 0;
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, kek, key, nullptr, &length), RvIs(CKR_MECHANISM_INVALID));
  const std::string wrapped = Wrap(kwp, kek, key);
  ASSERT_FALSE(wrapped.empty());
  Tmpl aes;
  aes.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES);
  CK_OBJECT_HANDLE unwrapped = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_UnwrapKey(session_, &key_wrap, kek, In(wrapped), wrapped.size(), aes.data(), aes.size(),
                              &unwrapped),
              RvIs(CKR_MECHANISM_INVALID));
  EXPECT_THAT(
      f_->C_UnwrapKey(session_, &kwp, kek, In(wrapped), wrapped.size(), aes.data(), aes.size(), &unwrapped),
      RvIs(CKR_OK));

  const KeyPair ec = GenerateEc(kP256Params, Tmpl().Bool(CKA_DERIVE, true).Mechanisms(CKA_ALLOWED_MECHANISMS,
                                                                                         {CKM_ECDSA}));
  std::string point = OctetStringContents(Bytes(ec.public_key, CKA_EC_POINT));
  CK_ECDH1_DERIVE_PARAMS ecdh = {CKD_NULL, 0, nullptr, point.size(), In(point)};
  CK_MECHANISM derive = Mech(CKM_ECDH1_DERIVE, &ecdh);
  Tmpl secret;
  secret.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).Ulong(CKA_VALUE_LEN, 32);
  CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_DeriveKey(session_, &derive, ec.private_key, secret.data(), secret.size(), &derived),
              RvIs(CKR_MECHANISM_INVALID));
  CK_MECHANISM ecdsa = Mech(CKM_ECDSA);
  EXPECT_EQ(Sign(ecdsa, ec.private_key, std::string(32, 'h')).size(), 64u);
}

TEST_F(RulesTest, MechanismMustSuitTheKeyType) {
  const CK_OBJECT_HANDLE aes = ImportSecret(CKK_AES, std::string(32, 'a'), Tmpl().Bool(CKA_SIGN, true));
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  EXPECT_THAT(f_->C_EncryptInit(session_, &rsa_pkcs, aes), RvIs(CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_THAT(f_->C_SignInit(session_, &rsa_pkcs, aes), RvIs(CKR_KEY_TYPE_INCONSISTENT));
  CK_MECHANISM hmac = Mech(CKM_SHA256_HMAC);
  EXPECT_THAT(f_->C_SignInit(session_, &hmac, aes), RvIs(CKR_KEY_TYPE_INCONSISTENT));
  const KeyPair rsa = GenerateRsa();
  CK_MECHANISM ecdsa = Mech(CKM_ECDSA);
  EXPECT_THAT(f_->C_SignInit(session_, &ecdsa, rsa.private_key), RvIs(CKR_KEY_TYPE_INCONSISTENT));
  CK_MECHANISM eddsa = Mech(CKM_EDDSA);
  EXPECT_THAT(f_->C_SignInit(session_, &eddsa, rsa.private_key), RvIs(CKR_KEY_TYPE_INCONSISTENT));
  const KeyPair ec = GenerateEc(kP256Params);
  CK_MECHANISM sha256_rsa = Mech(CKM_SHA256_RSA_PKCS);
  EXPECT_THAT(f_->C_SignInit(session_, &sha256_rsa, ec.private_key), RvIs(CKR_KEY_TYPE_INCONSISTENT));
}

TEST_F(RulesTest, BadMechanismParametersAreRefused) {
  const KeyPair rsa = GenerateRsa();
  // PSS whose hashAlg is not the mechanism's hash.
  CK_RSA_PKCS_PSS_PARAMS mismatched = {CKM_SHA_1, CKG_MGF1_SHA1, 20};
  CK_MECHANISM pss = Mech(CKM_SHA256_RSA_PKCS_PSS, &mismatched);
  EXPECT_THAT(f_->C_SignInit(session_, &pss, rsa.private_key), RvIs(CKR_MECHANISM_PARAM_INVALID));
  // PSS without parameters at all.
  CK_MECHANISM bare_pss = Mech(CKM_RSA_PKCS_PSS);
  EXPECT_THAT(f_->C_SignInit(session_, &bare_pss, rsa.private_key), RvIs(CKR_MECHANISM_PARAM_INVALID));
  // A salt longer than the key can hold (2048-bit key, SHA-256: at most 222).
  CK_RSA_PKCS_PSS_PARAMS huge_salt = {CKM_SHA256, CKG_MGF1_SHA256, 300};
  CK_MECHANISM salty = Mech(CKM_SHA256_RSA_PKCS_PSS, &huge_salt);
  EXPECT_THAT(f_->C_SignInit(session_, &salty, rsa.private_key), RvIs(CKR_MECHANISM_PARAM_INVALID));
  // An 8-byte IV for AES-CBC.
  const CK_OBJECT_HANDLE aes = ImportSecret(CKK_AES, std::string(16, 'a'), Tmpl());
  std::string short_iv(8, '\0');
  CK_MECHANISM cbc = Mech(CKM_AES_CBC, In(short_iv), short_iv.size());
  EXPECT_THAT(f_->C_EncryptInit(session_, &cbc, aes), RvIs(CKR_MECHANISM_PARAM_INVALID));
  // A GCM tag of 0 bits.
  std::string iv(12, '\0');
  CK_GCM_PARAMS no_tag = {In(iv), iv.size(), 96, nullptr, 0, 0};
  CK_MECHANISM gcm = Mech(CKM_AES_GCM, &no_tag);
  EXPECT_THAT(f_->C_EncryptInit(session_, &gcm, aes), RvIs(CKR_MECHANISM_PARAM_INVALID));
}

TEST_F(RulesTest, UnknownOrMisusedMechanismsAreInvalid) {
  const KeyPair rsa = GenerateRsa();
  CK_MECHANISM unknown = Mech(kUnknownMechanism);
  EXPECT_THAT(f_->C_SignInit(session_, &unknown, rsa.private_key), RvIs(CKR_MECHANISM_INVALID));
  EXPECT_THAT(f_->C_DigestInit(session_, &unknown), RvIs(CKR_MECHANISM_INVALID));
  CK_MECHANISM_INFO info;
  EXPECT_THAT(f_->C_GetMechanismInfo(slot(), kUnknownMechanism, &info), RvIs(CKR_MECHANISM_INVALID));
  // A known mechanism used for a function it does not have.
  CK_MECHANISM hmac = Mech(CKM_SHA256_HMAC);
  EXPECT_THAT(f_->C_DigestInit(session_, &hmac), RvIs(CKR_MECHANISM_INVALID));
  CK_RSA_PKCS_PSS_PARAMS pss_params = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM pss = Mech(CKM_SHA256_RSA_PKCS_PSS, &pss_params);
  EXPECT_THAT(f_->C_EncryptInit(session_, &pss, rsa.public_key), RvIs(CKR_MECHANISM_INVALID));
  CK_MECHANISM sha256 = Mech(CKM_SHA256);
  EXPECT_THAT(f_->C_SignInit(session_, &sha256, rsa.private_key), RvIs(CKR_MECHANISM_INVALID));
}

TEST_F(RulesTest, DataTooLongForRsaPkcsIsOutOfRange) {
  const KeyPair rsa = GenerateRsa(2048, Tmpl().Bool(CKA_DECRYPT, true));
  // PKCS #1 v1.5 takes at most k - 11 = 245 bytes.
  const std::string longest(245, 'x'), too_long(246, 'x');
  EXPECT_EQ(Sign(Mech(CKM_RSA_PKCS), rsa.private_key, longest).size(), 256u);
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  ASSERT_THAT(f_->C_SignInit(session_, &rsa_pkcs, rsa.private_key), RvIs(CKR_OK));
  std::string signature(256, '\0');
  CK_ULONG length = signature.size();
  EXPECT_THAT(f_->C_Sign(session_, In(too_long), too_long.size(), In(signature), &length), RvIs(CKR_DATA_LEN_RANGE));
  ASSERT_THAT(f_->C_EncryptInit(session_, &rsa_pkcs, rsa.public_key), RvIs(CKR_OK));
  length = signature.size();
  EXPECT_THAT(f_->C_Encrypt(session_, In(too_long), too_long.size(), In(signature), &length),
              RvIs(CKR_DATA_LEN_RANGE));
  // A ciphertext that is not modulus-sized.
  ASSERT_THAT(f_->C_DecryptInit(session_, &rsa_pkcs, rsa.private_key), RvIs(CKR_OK));
  length = signature.size();
  EXPECT_THAT(f_->C_Decrypt(session_, In(longest), longest.size(), In(signature), &length),
              RvIs(CKR_ENCRYPTED_DATA_LEN_RANGE));
}

TEST_F(RulesTest, TamperedSignaturesAreInvalidAndShortOnesOutOfRange) {
  const KeyPair rsa = GenerateRsa();
  const KeyPair ec = GenerateEc(kP256Params);
  const KeyPair ed =
      GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, Tmpl().Bytes(CKA_EC_PARAMS, kEd25519Params), Tmpl());
  const CK_OBJECT_HANDLE hmac_key =
      ImportSecret(CKK_GENERIC_SECRET, std::string(32, 'h'), Tmpl().Bool(CKA_SIGN, true).Bool(CKA_VERIFY, true));
  struct Case {
    const char* name;
    CK_MECHANISM_TYPE mechanism;
    CK_OBJECT_HANDLE signer, verifier;
  };
  for (const Case& c : {Case{"RSA", CKM_SHA256_RSA_PKCS, rsa.private_key, rsa.public_key},
                        Case{"ECDSA", CKM_ECDSA_SHA256, ec.private_key, ec.public_key},
                        Case{"EdDSA", CKM_EDDSA, ed.private_key, ed.public_key},
                        Case{"HMAC", CKM_SHA256_HMAC, hmac_key, hmac_key}}) {
    SCOPED_TRACE(c.name);
    const std::string signature = Sign(Mech(c.mechanism), c.signer, "signed data");
    ASSERT_FALSE(signature.empty());
    EXPECT_THAT(Verify(Mech(c.mechanism), c.verifier, "signed data", signature), RvIs(CKR_OK));
    std::string tampered = signature;
    tampered[tampered.size() / 2] ^= 0x10;
    EXPECT_THAT(Verify(Mech(c.mechanism), c.verifier, "signed data", tampered), RvIs(CKR_SIGNATURE_INVALID));
    EXPECT_THAT(Verify(Mech(c.mechanism), c.verifier, "signed datA", signature), RvIs(CKR_SIGNATURE_INVALID));
    EXPECT_THAT(Verify(Mech(c.mechanism), c.verifier, "signed data", signature.substr(1)),
                RvIs(CKR_SIGNATURE_LEN_RANGE));
    // Multi-part verification gives the same verdicts.
    CK_MECHANISM mechanism = Mech(c.mechanism);
    if (c.mechanism != CKM_EDDSA) {  // single-part only in PKCS #11
      ASSERT_THAT(f_->C_VerifyInit(session_, &mechanism, c.verifier), RvIs(CKR_OK));
      ASSERT_THAT(f_->C_VerifyUpdate(session_, In("signed data"), 11), RvIs(CKR_OK));
      EXPECT_THAT(f_->C_VerifyFinal(session_, In(tampered), tampered.size()), RvIs(CKR_SIGNATURE_INVALID));
    }
  }
}

TEST_F(RulesTest, OperationLifeCycle) {
  const KeyPair rsa = GenerateRsa();
  CK_MECHANISM mechanism = Mech(CKM_SHA256_RSA_PKCS);
  std::string signature(256, '\0');
  CK_ULONG length = signature.size();
  // Nothing started yet.
  EXPECT_THAT(f_->C_Sign(session_, In("x"), 1, In(signature), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(f_->C_SignUpdate(session_, In("x"), 1), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(f_->C_SignFinal(session_, In(signature), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(f_->C_Verify(session_, In("x"), 1, In(signature), 256), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(f_->C_Encrypt(session_, In("x"), 1, In(signature), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  EXPECT_THAT(f_->C_Digest(session_, In("x"), 1, In(signature), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));

  // A second Init while one is active; the first carries on unharmed.
  ASSERT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_OPERATION_ACTIVE));
  // Other kinds of operation are independent of it.
  CK_MECHANISM sha256 = Mech(CKM_SHA256);
  EXPECT_THAT(f_->C_DigestInit(session_, &sha256), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_SignUpdate(session_, In("abc"), 3), RvIs(CKR_OK));
  length = signature.size();
  ASSERT_THAT(f_->C_SignFinal(session_, In(signature), &length), RvIs(CKR_OK));
  EXPECT_THAT(Verify(mechanism, rsa.public_key, "abc", signature), RvIs(CKR_OK));
  // Success ended it.
  EXPECT_THAT(f_->C_SignUpdate(session_, In("x"), 1), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  // Each session has its own operations.
  CK_SESSION_HANDLE second = Open();
  EXPECT_THAT(f_->C_SignInit(second, &mechanism, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_OK));
}

TEST_F(RulesTest, AnErrorEndsTheOperation) {
  const KeyPair rsa = GenerateRsa();
  CK_MECHANISM rsa_pkcs = Mech(CKM_RSA_PKCS);
  ASSERT_THAT(f_->C_SignInit(session_, &rsa_pkcs, rsa.private_key), RvIs(CKR_OK));
  const std::string too_long(300, 'x');
  std::string signature(256, '\0');
  CK_ULONG length = signature.size();
  EXPECT_THAT(f_->C_Sign(session_, In(too_long), too_long.size(), In(signature), &length), RvIs(CKR_DATA_LEN_RANGE));
  length = signature.size();
  EXPECT_THAT(f_->C_Sign(session_, In("short"), 5, In(signature), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  // A failed verification ends the verify operation too.
  CK_MECHANISM sha256_rsa = Mech(CKM_SHA256_RSA_PKCS);
  EXPECT_THAT(Verify(sha256_rsa, rsa.public_key, "data", std::string(256, '\x01')), RvIs(CKR_SIGNATURE_INVALID));
  EXPECT_THAT(f_->C_Verify(session_, In("data"), 4, In(signature), 256), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  // And a failed decryption (bad padding) the decrypt operation.
  const CK_OBJECT_HANDLE aes = ImportSecret(CKK_AES, std::string(16, 'a'), Tmpl());
  std::string iv(16, '\0');
  CK_MECHANISM cbc_pad = Mech(CKM_AES_CBC_PAD, In(iv), iv.size());
  ASSERT_THAT(f_->C_DecryptInit(session_, &cbc_pad, aes), RvIs(CKR_OK));
  // A block ending in 0x00, encrypted without padding: never valid PKCS #7.
  const std::string cbc_of_bad_padding = Encrypt(Mech(CKM_AES_CBC, In(iv), iv.size()), aes, std::string(16, '\0'));
  ASSERT_EQ(cbc_of_bad_padding.size(), 16u);
  std::string plain(32, '\0');
  length = plain.size();
  EXPECT_THAT(f_->C_Decrypt(session_, In(cbc_of_bad_padding), 16, In(plain), &length),
              RvIs(CKR_ENCRYPTED_DATA_INVALID));
  length = plain.size();
  EXPECT_THAT(f_->C_Decrypt(session_, In(cbc_of_bad_padding), 16, In(plain), &length),
              RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

// AES-GCM decryption keeps the ciphertext until C_DecryptFinal; what one
// application's operations keep is bounded by hsmd's --max_operation_bytes
// (64 MiB by default). Past it: CKR_DEVICE_MEMORY, the operation ends, and a
// new one starts with the memory given back.
TEST_F(RulesTest, GcmDecryptionKeepsAtMostTheOperationsBudget) {
  const CK_OBJECT_HANDLE aes = ImportSecret(CKK_AES, std::string(32, 'g'), Tmpl());
  std::string iv(12, 'i');
  CK_GCM_PARAMS params = {In(iv), iv.size(), 96, nullptr, 0, 128};
  CK_MECHANISM gcm = Mech(CKM_AES_GCM, &params);
  std::string chunk(15 << 20, 'c');  // 4 fit in 64 MiB, 5 do not
  // Updates give out no plaintext before the tag verifies; a buffer all the
  // same (a null one would only ask for the length).
  std::string out(16, '\0');
  CK_ULONG length = 0;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    ASSERT_THAT(f_->C_DecryptInit(session_, &gcm, aes), RvIs(CKR_OK));
    for (int i = 0; i < 4; ++i) {
      length = out.size();
      ASSERT_THAT(f_->C_DecryptUpdate(session_, In(chunk), chunk.size(), In(out), &length), RvIs(CKR_OK));
      EXPECT_EQ(length, 0u);
    }
    length = out.size();
    EXPECT_THAT(f_->C_DecryptUpdate(session_, In(chunk), chunk.size(), In(out), &length),
                RvIs(CKR_DEVICE_MEMORY));
    length = out.size();
    EXPECT_THAT(f_->C_DecryptUpdate(session_, In(chunk), 16, In(out), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  }
  // Within the budget, GCM still round-trips.
  const std::string sealed = Encrypt(gcm, aes, "within the budget");
  ASSERT_THAT(f_->C_DecryptInit(session_, &gcm, aes), RvIs(CKR_OK));
  std::string plain(sealed.size(), '\0');
  length = plain.size();
  ASSERT_THAT(f_->C_Decrypt(session_, In(sealed), sealed.size(), In(plain), &length), RvIs(CKR_OK));
  EXPECT_EQ(plain.substr(0, length), "within the budget");
}

TEST_F(RulesTest, OnlyExtractableKeysAreWrapped) {
  const CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, std::string(16, 'w'), Tmpl().Bool(CKA_WRAP, true));
  const CK_OBJECT_HANDLE kept = ImportSecret(CKK_AES, std::string(16, 'k'), Tmpl());  // default: unextractable
  CK_MECHANISM key_wrap = Mech(CKM_AES_KEY_WRAP);
  CK_ULONG length = 0;
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, kek, kept, nullptr, &length), RvIs(CKR_KEY_UNEXTRACTABLE));
  const KeyPair rsa = GenerateRsa();  // default private key: unextractable
  CK_MECHANISM kwp = Mech(CKM_AES_KEY_WRAP_PAD);
  EXPECT_THAT(f_->C_WrapKey(session_, &kwp, kek, rsa.private_key, nullptr, &length), RvIs(CKR_KEY_UNEXTRACTABLE));
  // Turning extractable off is one way.
  const CK_OBJECT_HANDLE once = ImportSecret(CKK_AES, std::string(16, 'o'), Tmpl().Bool(CKA_EXTRACTABLE, true));
  EXPECT_EQ(Wrap(key_wrap, kek, once).size(), 24u);
  Tmpl lock;
  lock.Bool(CKA_EXTRACTABLE, false);
  ASSERT_THAT(f_->C_SetAttributeValue(session_, once, lock.data(), lock.size()), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, kek, once, nullptr, &length), RvIs(CKR_KEY_UNEXTRACTABLE));
}

// CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE (PKCS #11 2.40 section 5.13): a
// wrapping key wraps only keys that match its wrap template, and a key
// unwrapped with an unwrapping key gets that key's unwrap template.
TEST_F(RulesTest, WrapAndUnwrapTemplatesAreEnforced) {
  Tmpl wrappable;
  wrappable.Ulong(CKA_KEY_TYPE, CKK_AES).Bytes(CKA_LABEL, "escrow");
  Tmpl imposed;
  imposed.Bool(CKA_EXTRACTABLE, false).Bool(CKA_ENCRYPT, false);
  const CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, std::string(16, 'w'),
                                            Tmpl()
                                                .Bool(CKA_WRAP, true)
                                                .Bool(CKA_UNWRAP, true)
                                                .Array(CKA_WRAP_TEMPLATE, wrappable)
                                                .Array(CKA_UNWRAP_TEMPLATE, imposed));

  // The template reads back as the array it was given.
  CK_ULONG type = 0;
  char label[16] = {};
  CK_ATTRIBUTE entries[2] = {{0, &type, sizeof(type)}, {0, label, sizeof(label)}};
  CK_ATTRIBUTE read = {CKA_WRAP_TEMPLATE, entries, sizeof(entries)};
  ASSERT_THAT(f_->C_GetAttributeValue(session_, kek, &read, 1), RvIs(CKR_OK));
  EXPECT_EQ(read.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  EXPECT_EQ(entries[0].type, static_cast<CK_ATTRIBUTE_TYPE>(CKA_KEY_TYPE));
  EXPECT_EQ(type, static_cast<CK_ULONG>(CKK_AES));
  EXPECT_EQ(std::string(label, entries[1].ulValueLen), "escrow");

  CK_MECHANISM key_wrap = Mech(CKM_AES_KEY_WRAP);
  const CK_OBJECT_HANDLE escrow =
      ImportSecret(CKK_AES, std::string(16, 'e'), Tmpl().Bool(CKA_EXTRACTABLE, true).Bytes(CKA_LABEL, "escrow"));
  const CK_OBJECT_HANDLE other =
      ImportSecret(CKK_AES, std::string(16, 'o'), Tmpl().Bool(CKA_EXTRACTABLE, true).Bytes(CKA_LABEL, "other"));
  const std::string wrapped = Wrap(key_wrap, kek, escrow);
  EXPECT_EQ(wrapped.size(), 24u);
  CK_ULONG length = 0;
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, kek, other, nullptr, &length), RvIs(CKR_KEY_NOT_WRAPPABLE));
  Tmpl relabel;
  relabel.Bytes(CKA_LABEL, "escrow");
  ASSERT_THAT(f_->C_SetAttributeValue(session_, other, relabel.data(), relabel.size()), RvIs(CKR_OK));
  EXPECT_EQ(Wrap(key_wrap, kek, other).size(), 24u);

  // A template that asks for what the unwrap template forbids is refused.
  Tmpl asked;
  asked.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE unwrapped = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_UnwrapKey(session_, &key_wrap, kek, In(wrapped), wrapped.size(), asked.data(), asked.size(),
                              &unwrapped),
              RvIs(CKR_TEMPLATE_INCONSISTENT));
  Tmpl plain;
  plain.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_DECRYPT, true);
  ASSERT_THAT(f_->C_UnwrapKey(session_, &key_wrap, kek, In(wrapped), wrapped.size(), plain.data(), plain.size(),
                              &unwrapped),
              RvIs(CKR_OK));
  EXPECT_FALSE(Bool(unwrapped, CKA_EXTRACTABLE));
  EXPECT_FALSE(Bool(unwrapped, CKA_ENCRYPT));
  EXPECT_TRUE(Bool(unwrapped, CKA_DECRYPT));
  CK_MECHANISM ecb = Mech(CKM_AES_ECB);
  EXPECT_THAT(f_->C_EncryptInit(session_, &ecb, unwrapped), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));
  // The unwrapped key is the escrowed one.
  const std::string block(16, 'b');
  EXPECT_EQ(Decrypt(ecb, unwrapped, Encrypt(ecb, escrow, block)), block);
}

// Templates do not nest: an array inside an array is refused, and one that
// contains itself does not send the library round in circles.
TEST_F(RulesTest, TemplatesInsideTemplatesAreInvalid) {
  CK_ATTRIBUTE self[1];
  self[0] = {CKA_WRAP_TEMPLATE, self, sizeof(self)};
  Tmpl key;
  key.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bytes(CKA_VALUE, std::string(16, 'k'));
  std::vector<CK_ATTRIBUTE> with_self(key.data(), key.data() + key.size());
  with_self.push_back(self[0]);
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  EXPECT_THAT(f_->C_CreateObject(session_, with_self.data(), with_self.size(), &object),
              RvIs(CKR_ATTRIBUTE_VALUE_INVALID));
}

// hsmd keeps used token keys parsed in memory; a change or a destruction must
// reach the next operation all the same.
TEST_F(RulesTest, ChangedAndDestroyedTokenKeysTakeEffectAtOnce) {
  const KeyPair rsa = GenerateKeyPair(
      CKM_RSA_PKCS_KEY_PAIR_GEN, Tmpl().Bool(CKA_TOKEN, true).Ulong(CKA_MODULUS_BITS, 2048),
      Tmpl().Bool(CKA_TOKEN, true));
  CK_MECHANISM mechanism = Mech(CKM_SHA256_RSA_PKCS);
  EXPECT_EQ(Sign(mechanism, rsa.private_key, "cached now").size(), 256u);
  Tmpl no_signing;
  no_signing.Bool(CKA_SIGN, false);
  ASSERT_THAT(f_->C_SetAttributeValue(session_, rsa.private_key, no_signing.data(), no_signing.size()),
              RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_KEY_FUNCTION_NOT_PERMITTED));

  const CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, std::string(16, 'w'), Tmpl().Bool(CKA_TOKEN, true));
  const CK_OBJECT_HANDLE key =
      ImportSecret(CKK_AES, std::string(16, 'k'), Tmpl().Bool(CKA_TOKEN, true).Bool(CKA_EXTRACTABLE, true));
  CK_MECHANISM key_wrap = Mech(CKM_AES_KEY_WRAP);
  EXPECT_EQ(Wrap(key_wrap, kek, key).size(), 24u);
  Tmpl lock;
  lock.Bool(CKA_EXTRACTABLE, false);
  ASSERT_THAT(f_->C_SetAttributeValue(session_, key, lock.data(), lock.size()), RvIs(CKR_OK));
  CK_ULONG length = 0;
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, kek, key, nullptr, &length), RvIs(CKR_KEY_UNEXTRACTABLE));

  ASSERT_THAT(f_->C_DestroyObject(session_, kek), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_WrapKey(session_, &key_wrap, kek, key, nullptr, &length),
              RvIs(CKR_WRAPPING_KEY_HANDLE_INVALID));
  ASSERT_THAT(f_->C_DestroyObject(session_, rsa.public_key), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_VerifyInit(session_, &mechanism, rsa.public_key), RvIs(CKR_KEY_HANDLE_INVALID));
}

// CKA_ALWAYS_AUTHENTICATE (PKCS #11 2.40 section 4.9): each operation needs
// C_Login(CKU_CONTEXT_SPECIFIC) right after its Init.
TEST_F(RulesTest, AlwaysAuthenticateKeysNeedAContextSpecificLogin) {
  const KeyPair rsa = GenerateRsa(2048, Tmpl().Bool(CKA_ALWAYS_AUTHENTICATE, true));
  ASSERT_NE(rsa.private_key, CK_INVALID_HANDLE);
  CK_MECHANISM mechanism = Mech(CKM_SHA256_RSA_PKCS);
  std::string signature(256, '\0');
  CK_ULONG length = signature.size();
  // Without it: refused, and the operation is over.
  ASSERT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_USER_NOT_LOGGED_IN));
  length = signature.size();
  EXPECT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_OPERATION_NOT_INITIALIZED));
  // A wrong PIN does not unlock it.
  ASSERT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_OK));
  EXPECT_THAT(Login(session_, CKU_CONTEXT_SPECIFIC, "not-the-pin"), RvIs(CKR_PIN_INCORRECT));
  // The right one does, for this operation only.
  ASSERT_THAT(Login(session_, CKU_CONTEXT_SPECIFIC, hsmd_->user_pin), RvIs(CKR_OK));
  length = signature.size();
  ASSERT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_OK));
  EXPECT_THAT(Verify(mechanism, rsa.public_key, "data", signature.substr(0, length)), RvIs(CKR_OK));
  ASSERT_THAT(f_->C_SignInit(session_, &mechanism, rsa.private_key), RvIs(CKR_OK));
  length = signature.size();
  EXPECT_THAT(f_->C_Sign(session_, In("data"), 4, In(signature), &length), RvIs(CKR_USER_NOT_LOGGED_IN));
  // With no such operation waiting, a context-specific login has nothing to do.
  EXPECT_THAT(Login(session_, CKU_CONTEXT_SPECIFIC, hsmd_->user_pin), RvIs(CKR_OPERATION_NOT_INITIALIZED));
}

TEST_F(RulesTest, PrivateKeysAreInvisibleAfterLogout) {
  const KeyPair token = GenerateKeyPair(
      CKM_RSA_PKCS_KEY_PAIR_GEN, Tmpl().Bool(CKA_TOKEN, true).Ulong(CKA_MODULUS_BITS, 2048),
      Tmpl().Bool(CKA_TOKEN, true));
  const KeyPair session_pair = GenerateRsa();
  const CK_OBJECT_HANDLE secret = ImportSecret(CKK_GENERIC_SECRET, "hmac key", Tmpl().Bool(CKA_SIGN, true));
  CK_MECHANISM mechanism = Mech(CKM_SHA256_RSA_PKCS);
  // Used once while logged in, so hsmd has the token key parsed and cached.
  EXPECT_EQ(Sign(mechanism, token.private_key, "warm").size(), 256u);
  EXPECT_EQ(Sign(mechanism, session_pair.private_key, "warm").size(), 256u);

  ASSERT_THAT(f_->C_Logout(session_), RvIs(CKR_OK));
  EXPECT_THAT(f_->C_SignInit(session_, &mechanism, token.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
  EXPECT_THAT(f_->C_SignInit(session_, &mechanism, session_pair.private_key), RvIs(CKR_KEY_HANDLE_INVALID));
  CK_MECHANISM hmac = Mech(CKM_SHA256_HMAC);
  EXPECT_THAT(f_->C_SignInit(session_, &hmac, secret), RvIs(CKR_KEY_HANDLE_INVALID));
  // Public keys stay usable without a login.
  EXPECT_THAT(f_->C_VerifyInit(session_, &mechanism, token.public_key), RvIs(CKR_OK));

  ASSERT_THAT(Login(session_, CKU_USER, hsmd_->user_pin), RvIs(CKR_OK));
  EXPECT_EQ(Sign(mechanism, token.private_key, "back").size(), 256u);
}

}  // namespace
}  // namespace hsm::testing
