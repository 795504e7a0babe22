// Ed25519 (CKM_EDDSA) against RFC 8032 section 7.1, and key handling.
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

const std::string kEd25519Oid = Hex("06032b6570");
const std::string kEdwards25519Name = std::string("\x13\x0c") + "edwards25519";

MechanismParams Eddsa() {
  MechanismParams params;
  params.type = CKM_EDDSA;
  return params;
}

struct Rfc8032Vector {
  const char* name;
  std::string secret, public_key, message, signature;
};

class EddsaTest : public ::testing::TestWithParam<Rfc8032Vector> {};

TEST_P(EddsaTest, MatchesRfc8032) {
  const Rfc8032Vector& v = GetParam();
  auto key = PrivateKeyFromAttributes(CKK_EC_EDWARDS,
                                      {{CKA_EC_PARAMS, kEd25519Oid}, {CKA_VALUE, v.secret}});
  ASSERT_TRUE(key.ok()) << key.status();
  CK_KEY_TYPE type = 0;
  auto public_attrs = PublicAttributesFromKey(*key, &type);
  ASSERT_TRUE(public_attrs.ok());
  EXPECT_EQ(type, static_cast<CK_KEY_TYPE>(CKK_EC_EDWARDS));
  EXPECT_EQ(ToHex(public_attrs->at(CKA_EC_POINT)), ToHex(EncodeEcPoint(v.public_key)));

  auto sign = NewSignOperation(Eddsa(), *key, "");
  ASSERT_TRUE(sign.ok()) << sign.status();
  EXPECT_EQ((*sign)->SignatureLength(), 64u);
  auto signature = (*sign)->SignOnce(v.message);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(ToHex(*signature), ToHex(v.signature));

  // The public key by its name, as a bare point, and as DER.
  for (const std::string& point : {v.public_key, EncodeEcPoint(v.public_key)}) {
    auto public_key = PublicKeyFromAttributes(
        CKK_EC_EDWARDS, {{CKA_EC_PARAMS, kEdwards25519Name}, {CKA_EC_POINT, point}});
    ASSERT_TRUE(public_key.ok()) << public_key.status();
    auto verify = NewVerifyOperation(Eddsa(), *public_key, "");
    ASSERT_TRUE(verify.ok());
    EXPECT_TRUE((*verify)->VerifyOnce(v.message, v.signature).ok());
    std::string tampered = v.signature;
    tampered[10] ^= 4;
    auto verify_bad = NewVerifyOperation(Eddsa(), *public_key, "");
    EXPECT_TRUE(HasRv((*verify_bad)->VerifyOnce(v.message, tampered), CKR_SIGNATURE_INVALID));
    auto verify_short = NewVerifyOperation(Eddsa(), *public_key, "");
    EXPECT_TRUE(HasRv((*verify_short)->VerifyOnce(v.message, v.signature.substr(1)),
                      CKR_SIGNATURE_LEN_RANGE));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8032Section7_1, EddsaTest,
    ::testing::Values(
        Rfc8032Vector{"Test1",
                      Hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
                      Hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"), "",
                      Hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb88215"
                          "90a33bacc61e"
                          "39701cf9b46bd25bf5f0595bbe24655141438e7a100b")},
        Rfc8032Vector{
            "Test2", Hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"),
            Hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"), Hex("72"),
            Hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e45"
                "8f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")}),
    [](const ::testing::TestParamInfo<Rfc8032Vector>& info) {
      return std::string(info.param.name);
    });

TEST(EddsaGenerateTest, RoundTripAndSinglePart) {
  auto pair = GenerateEdwardsKeyPair(kEdwards25519Name);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->public_attributes.at(CKA_EC_PARAMS), kEdwards25519Name);
  EXPECT_EQ(pair->public_attributes.at(CKA_EC_POINT).size(), 34u);
  EXPECT_EQ(pair->private_attributes.at(CKA_VALUE).size(), 32u);
  auto sign = NewSignOperation(Eddsa(), pair->key, "");
  ASSERT_TRUE(sign.ok());
  EXPECT_TRUE(HasRv((*sign)->Update("data"), CKR_FUNCTION_NOT_SUPPORTED));
  EXPECT_TRUE(HasRv((*sign)->Final(), CKR_FUNCTION_NOT_SUPPORTED));
  auto signature = (*sign)->SignOnce("data");
  ASSERT_TRUE(signature.ok());
  auto public_key = PublicKeyFromAttributes(CKK_EC_EDWARDS, pair->public_attributes);
  ASSERT_TRUE(public_key.ok());
  auto verify = NewVerifyOperation(Eddsa(), *public_key, "");
  EXPECT_TRUE((*verify)->VerifyOnce("data", *signature).ok());

  EXPECT_TRUE(HasRv(GenerateEdwardsKeyPair(Hex("06032b6571")), CKR_CURVE_NOT_SUPPORTED));  // Ed448
  EXPECT_TRUE(HasRv(GenerateEdwardsKeyPair(Hex("06082a8648ce3d030107")), CKR_CURVE_NOT_SUPPORTED));
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_EC_EDWARDS, {{CKA_EC_PARAMS, kEd25519Oid},
                                                              {CKA_VALUE, std::string(31, 'k')}}),
                    CKR_ATTRIBUTE_VALUE_INVALID));
  MechanismParams ecdsa;
  ecdsa.type = CKM_ECDSA;
  EXPECT_TRUE(HasRv(NewSignOperation(ecdsa, pair->key, ""), CKR_KEY_TYPE_INCONSISTENT));
}

}  // namespace
}  // namespace hsm::server::crypto
