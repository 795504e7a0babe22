// ECDSA on P-256/384/521 (r || s signatures, interoperable with OpenSSL's
// DER ECDSA) and ECDH1 derivation with CKD_NULL and the X9.63 KDF.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <string>
#include <thread>
#include <vector>

#include "server/crypto/key_material.h"
#include "server/crypto/openssl_util.h"
#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;

struct CurveCase {
  const char* name;
  std::string params;
  size_t field_bytes;
};

class EcTest : public ::testing::TestWithParam<CurveCase> {};

MechanismParams Params(CK_MECHANISM_TYPE type) {
  MechanismParams params;
  params.type = type;
  return params;
}

// r || s as the DER ECDSA-Sig-Value OpenSSL verifies.
std::string ToDer(const std::string& signature) {
  size_t half = signature.size() / 2;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  ECDSA_SIG_set0(sig.get(), BytesToBignum(signature.substr(0, half), false).release(),
                 BytesToBignum(signature.substr(half), false).release());
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(sig.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

TEST_P(EcTest, GeneratedKeysSignAndVerify) {
  const CurveCase& c = GetParam();
  auto pair = GenerateEcKeyPair(c.params);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->public_attributes.at(CKA_EC_PARAMS), c.params);
  EXPECT_EQ(pair->private_attributes.at(CKA_VALUE).size(), c.field_bytes);
  const std::string& ec_point = pair->public_attributes.at(CKA_EC_POINT);
  auto point = DecodeEcPoint(ec_point, **CurveFromParams(c.params));
  ASSERT_TRUE(point.ok());
  EXPECT_EQ(point->size(), 1 + 2 * c.field_bytes);
  EXPECT_EQ(ec_point, EncodeEcPoint(*point));
  EXPECT_EQ(*EcFieldBytes(pair->key.get()), c.field_bytes);

  auto public_key = PublicKeyFromAttributes(CKK_EC, pair->public_attributes);
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  EXPECT_TRUE(CheckPublicMatchesPrivate(*public_key, pair->key).ok());

  std::string message = "ECDSA message";
  for (CK_MECHANISM_TYPE mechanism : {CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256,
                                      CKM_ECDSA_SHA384, CKM_ECDSA_SHA512}) {
    SCOPED_TRACE(mechanism);
    // CKM_ECDSA takes a hash; 64 bytes is longer than P-256's and P-384's
    // order, which ECDSA truncates.
    std::string input = mechanism == CKM_ECDSA ? std::string(64, '\x5a') : message;
    auto sign = NewSignOperation(Params(mechanism), pair->key, "");
    ASSERT_TRUE(sign.ok()) << sign.status();
    EXPECT_EQ((*sign)->SignatureLength(), 2 * c.field_bytes);
    auto signature = (*sign)->SignOnce(input);
    ASSERT_TRUE(signature.ok()) << signature.status();
    EXPECT_EQ(signature->size(), 2 * c.field_bytes);

    auto verify = NewVerifyOperation(Params(mechanism), *public_key, "");
    ASSERT_TRUE(verify.ok());
    EXPECT_TRUE((*verify)->VerifyOnce(input, *signature).ok());

    std::string tampered = *signature;
    tampered[5] ^= 0x20;
    auto verify_bad = NewVerifyOperation(Params(mechanism), *public_key, "");
    EXPECT_TRUE(HasRv((*verify_bad)->VerifyOnce(input, tampered), CKR_SIGNATURE_INVALID));
    auto verify_zero = NewVerifyOperation(Params(mechanism), *public_key, "");
    EXPECT_TRUE(HasRv((*verify_zero)->VerifyOnce(input, std::string(2 * c.field_bytes, '\0')),
                      CKR_SIGNATURE_INVALID));
    auto verify_short = NewVerifyOperation(Params(mechanism), *public_key, "");
    EXPECT_TRUE(
        HasRv((*verify_short)->VerifyOnce(input, signature->substr(2)), CKR_SIGNATURE_LEN_RANGE));

    auto multi = NewSignOperation(Params(mechanism), pair->key, "");
    if (mechanism == CKM_ECDSA) {
      EXPECT_TRUE(HasRv((*multi)->Update(input), CKR_FUNCTION_NOT_SUPPORTED));
    } else {
      ASSERT_TRUE((*multi)->Update(message.substr(0, 4)).ok());
      ASSERT_TRUE((*multi)->Update(message.substr(4)).ok());
      auto multi_signature = (*multi)->Final();
      ASSERT_TRUE(multi_signature.ok());
      auto multi_verify = NewVerifyOperation(Params(mechanism), *public_key, "");
      ASSERT_TRUE((*multi_verify)->Update(message).ok());
      EXPECT_TRUE((*multi_verify)->Final(*multi_signature).ok());
    }
  }

  // OpenSSL's own ECDSA-with-SHA-256 accepts a CKM_ECDSA_SHA256 signature.
  auto sign = NewSignOperation(Params(CKM_ECDSA_SHA256), pair->key, "");
  std::string der = ToDer(*(*sign)->SignOnce(message));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key->get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), Bytes(der), der.size(), Bytes(message), message.size()), 1);
}

MechanismParams EcdhParams(CK_EC_KDF_TYPE kdf, const std::string& shared, const std::string& peer) {
  MechanismParams params = Params(CKM_ECDH1_DERIVE);
  params.ecdh = MechanismParams::Ecdh{kdf, shared, peer};
  return params;
}

TEST_P(EcTest, EcdhAgrees) {
  const CurveCase& c = GetParam();
  auto alice = GenerateEcKeyPair(c.params);
  auto bob = GenerateEcKeyPair(c.params);
  ASSERT_TRUE(alice.ok() && bob.ok());
  const std::string& alice_point = alice->public_attributes.at(CKA_EC_POINT);
  const std::string& bob_point = bob->public_attributes.at(CKA_EC_POINT);
  std::string bob_raw = *DecodeEcPoint(bob_point, **CurveFromParams(c.params));

  auto z_alice = DeriveEcdh(EcdhParams(CKD_NULL, "", bob_point), alice->key, 0);
  auto z_bob = DeriveEcdh(EcdhParams(CKD_NULL, "", alice_point), bob->key, 0);
  ASSERT_TRUE(z_alice.ok()) << z_alice.status();
  ASSERT_TRUE(z_bob.ok()) << z_bob.status();
  EXPECT_EQ(z_alice->size(), c.field_bytes);
  EXPECT_EQ(*z_alice, *z_bob);
  // A bare point works as well as the DER one.
  EXPECT_EQ(*DeriveEcdh(EcdhParams(CKD_NULL, "", bob_raw), alice->key, 0), *z_alice);
  // CKD_NULL truncation keeps the trailing bytes.
  EXPECT_EQ(*DeriveEcdh(EcdhParams(CKD_NULL, "", bob_point), alice->key, 16),
            z_alice->substr(c.field_bytes - 16));
  EXPECT_TRUE(HasRv(DeriveEcdh(EcdhParams(CKD_NULL, "", bob_point), alice->key, c.field_bytes + 1),
                    CKR_KEY_SIZE_RANGE));

  // ANSI X9.63: SHA-256(Z || 00000001 || SharedInfo) for one block.
  std::string shared = "shared info";
  auto kdf_alice = DeriveEcdh(EcdhParams(CKD_SHA256_KDF, shared, bob_point), alice->key, 32);
  auto kdf_bob = DeriveEcdh(EcdhParams(CKD_SHA256_KDF, shared, alice_point), bob->key, 32);
  ASSERT_TRUE(kdf_alice.ok()) << kdf_alice.status();
  EXPECT_EQ(*kdf_alice, *kdf_bob);
  std::string block = *z_alice + std::string("\0\0\0\1", 4) + shared;
  std::string expected(32, '\0');
  EVP_Digest(block.data(), block.size(), MutableBytes(expected), nullptr, EVP_sha256(), nullptr);
  EXPECT_EQ(*kdf_alice, expected);
  auto longer = DeriveEcdh(EcdhParams(CKD_SHA1_KDF, "", bob_point), alice->key, 45);
  ASSERT_TRUE(longer.ok());
  EXPECT_EQ(longer->size(), 45u);
}

INSTANTIATE_TEST_SUITE_P(NistCurves, EcTest,
                         ::testing::Values(CurveCase{"P256", Hex("06082a8648ce3d030107"), 32},
                                           CurveCase{"P384", Hex("06052b81040022"), 48},
                                           CurveCase{"P521", Hex("06052b81040023"), 66}),
                         [](const ::testing::TestParamInfo<CurveCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(EcdhTest, Errors) {
  auto alice = GenerateEcKeyPair(Hex("06082a8648ce3d030107"));
  auto other_curve = GenerateEcKeyPair(Hex("06052b81040022"));
  ASSERT_TRUE(alice.ok() && other_curve.ok());
  const std::string& own_point = alice->public_attributes.at(CKA_EC_POINT);
  EXPECT_TRUE(
      HasRv(DeriveEcdh(Params(CKM_ECDH1_DERIVE), alice->key, 0), CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(HasRv(DeriveEcdh(EcdhParams(CKD_NULL, "data", own_point), alice->key, 0),
                    CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(HasRv(DeriveEcdh(EcdhParams(0x99, "", own_point), alice->key, 0),
                    CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(
      HasRv(DeriveEcdh(EcdhParams(CKD_NULL, "", other_curve->public_attributes.at(CKA_EC_POINT)),
                       alice->key, 0),
            CKR_MECHANISM_PARAM_INVALID));
  std::string off_curve = own_point;
  off_curve.back() ^= 1;
  EXPECT_TRUE(HasRv(DeriveEcdh(EcdhParams(CKD_NULL, "", off_curve), alice->key, 0),
                    CKR_MECHANISM_PARAM_INVALID));
  auto public_only = PublicKeyFromAttributes(CKK_EC, alice->public_attributes);
  EXPECT_TRUE(HasRv(DeriveEcdh(EcdhParams(CKD_NULL, "", own_point), *public_only, 0),
                    CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(DeriveEcdh(EcdhParams(CKD_NULL, "", own_point), nullptr, 0),
                    CKR_KEY_TYPE_INCONSISTENT));
}

// The server hands one parsed key to concurrent operations.
TEST(EcdsaTest, OneKeySharedAcrossThreads) {
  auto pair = GenerateEcKeyPair(Hex("06082a8648ce3d030107"));
  ASSERT_TRUE(pair.ok());
  EvpPkeyPtr key = pair->key;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&key, &failures, t] {
      for (int i = 0; i < 25; ++i) {
        std::string message = "message " + std::to_string(t) + "/" + std::to_string(i);
        auto sign = NewSignOperation(Params(CKM_ECDSA_SHA256), key, "");
        auto verify = NewVerifyOperation(Params(CKM_ECDSA_SHA256), key, "");
        if (!sign.ok() || !verify.ok()) {
          ++failures[t];
          continue;
        }
        auto signature = (*sign)->SignOnce(message);
        if (!signature.ok() || !(*verify)->VerifyOnce(message, *signature).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(EcdsaTest, WrongKeysAndCurves) {
  auto ed = GenerateEdwardsKeyPair(Hex("06032b6570"));
  ASSERT_TRUE(ed.ok());
  EXPECT_TRUE(HasRv(NewSignOperation(Params(CKM_ECDSA), ed->key, ""), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(GenerateEcKeyPair(Hex("06032b6570")), CKR_CURVE_NOT_SUPPORTED));
  // secp256k1: a well-formed OID of a curve this library does not offer.
  EXPECT_TRUE(HasRv(GenerateEcKeyPair(Hex("06052b8104000a")), CKR_CURVE_NOT_SUPPORTED));
  EXPECT_TRUE(HasRv(GenerateEcKeyPair("garbage"), CKR_ATTRIBUTE_VALUE_INVALID));
}

}  // namespace
}  // namespace hsm::server::crypto
