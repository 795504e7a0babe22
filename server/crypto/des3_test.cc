// Triple DES against NIST SP 800-67 (appendix B, three distinct keys) and
// FIPS 81 (ECB and CBC; with K1 = K2 = K3, EDE is single DES), plus key
// generation parity and length rules.
#include <gtest/gtest.h>

#include <string>

#include "server/crypto/key_material.h"
#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;
using testing::ToHex;

struct DesVector {
  const char* name;
  CK_MECHANISM_TYPE mechanism;
  std::string key, iv, plain, cipher;
};

class Des3Test : public ::testing::TestWithParam<DesVector> {};

TEST_P(Des3Test, MatchesTheVector) {
  const DesVector& v = GetParam();
  MechanismParams params;
  params.type = v.mechanism;
  params.iv = v.iv;
  auto enc = NewEncryptOperation(params, nullptr, v.key);
  ASSERT_TRUE(enc.ok()) << enc.status();
  auto cipher = (*enc)->Once(v.plain);
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  EXPECT_EQ(ToHex(*cipher), ToHex(v.cipher));
  auto dec = NewDecryptOperation(params, nullptr, v.key);
  ASSERT_TRUE(dec.ok());
  auto plain = (*dec)->Once(v.cipher);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, v.plain);
}

const std::string kFips81Key = Hex("0123456789abcdef 0123456789abcdef 0123456789abcdef");

INSTANTIATE_TEST_SUITE_P(
    NistVectors, Des3Test,
    ::testing::Values(DesVector{"Sp800_67", CKM_DES3_ECB,
                                Hex("0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123"), "",
                                "The qufck brown fox jump",
                                Hex("A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900")},
                      DesVector{"Fips81Ecb", CKM_DES3_ECB, kFips81Key, "",
                                "Now is the time for all ",
                                Hex("3fa40e8a984d4815 6a271787ab8883f9 893d51ec4b563b53")},
                      DesVector{"Fips81Cbc", CKM_DES3_CBC, kFips81Key, Hex("1234567890abcdef"),
                                "Now is the time for all ",
                                Hex("e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6")}),
    [](const ::testing::TestParamInfo<DesVector>& info) { return std::string(info.param.name); });

TEST(Des3Test, CbcPadRoundTripAndErrors) {
  auto key = GenerateSecretKey(CKK_DES3, 24);
  ASSERT_TRUE(key.ok());
  MechanismParams params;
  params.type = CKM_DES3_CBC_PAD;
  params.iv = std::string(8, '\x01');
  auto enc = NewEncryptOperation(params, nullptr, *key);
  ASSERT_TRUE(enc.ok());
  auto cipher = (*enc)->Once("seven b");
  ASSERT_TRUE(cipher.ok());
  EXPECT_EQ(cipher->size(), 8u);
  auto dec = NewDecryptOperation(params, nullptr, *key);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*(*dec)->Once(*cipher), "seven b");

  params.iv = std::string(16, '\x01');
  EXPECT_TRUE(HasRv(NewEncryptOperation(params, nullptr, *key), CKR_MECHANISM_PARAM_INVALID));
  params.type = CKM_DES3_ECB;
  EXPECT_TRUE(HasRv(NewEncryptOperation(params, nullptr, key->substr(0, 16)), CKR_KEY_SIZE_RANGE));
  auto ecb = NewEncryptOperation(params, nullptr, *key);
  ASSERT_TRUE(ecb.ok());
  EXPECT_TRUE(HasRv((*ecb)->Once("not8"), CKR_DATA_LEN_RANGE));
}

TEST(Des3Test, GeneratedKeysHaveOddParity) {
  for (int i = 0; i < 20; ++i) {
    auto key = GenerateSecretKey(CKK_DES3, 24);
    ASSERT_TRUE(key.ok());
    ASSERT_EQ(key->size(), 24u);
    for (char c : *key) EXPECT_EQ(__builtin_popcount(static_cast<unsigned char>(c)) % 2, 1);
  }
  EXPECT_TRUE(HasRv(GenerateSecretKey(CKK_DES3, 16), CKR_KEY_SIZE_RANGE));
}

}  // namespace
}  // namespace hsm::server::crypto
