// Keys from attributes and back, validation of imported material, PKCS #8,
// the EC encodings, and secret key generation.
#include "server/crypto/key_material.h"

#include <gtest/gtest.h>

#include <string>

#include "server/crypto/operation.h"
#include "server/crypto/test_util.h"

namespace hsm::server::crypto {
namespace {

using testing::HasRv;
using testing::Hex;
using testing::ToHex;

const std::string kP256 = Hex("06082a8648ce3d030107");
const std::string kP256Order =
    Hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
const std::string kP256Generator =
    Hex("04 6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
        "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5");

class RsaKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pair = GenerateRsaKeyPair(2048, Hex("010001"));
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = new GeneratedKeyPair(std::move(*pair));
  }
  static void TearDownTestSuite() { delete pair_; }
  static GeneratedKeyPair* pair_;
};
GeneratedKeyPair* RsaKeyTest::pair_ = nullptr;

TEST_F(RsaKeyTest, ComponentsRoundTrip) {
  const AttributeBytes& priv = pair_->private_attributes;
  for (CK_ATTRIBUTE_TYPE type :
       {CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
        CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT}) {
    EXPECT_EQ(priv.count(type), 1u) << type;
  }
  EXPECT_EQ(priv.at(CKA_MODULUS).size(), 256u);
  EXPECT_EQ(ToHex(priv.at(CKA_PUBLIC_EXPONENT)), "010001");
  EXPECT_EQ(pair_->public_attributes.size(), 2u);
  EXPECT_EQ(pair_->public_attributes.at(CKA_MODULUS), priv.at(CKA_MODULUS));

  auto key = PrivateKeyFromAttributes(CKK_RSA, priv);
  ASSERT_TRUE(key.ok()) << key.status();
  CK_KEY_TYPE type = 0;
  auto back = PrivateAttributesFromKey(*key, &type);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(type, static_cast<CK_KEY_TYPE>(CKK_RSA));
  EXPECT_EQ(*back, priv);
  EXPECT_TRUE(HasPrivateKey(key->get()));

  auto public_key = PublicKeyFromAttributes(CKK_RSA, pair_->public_attributes);
  ASSERT_TRUE(public_key.ok());
  EXPECT_FALSE(HasPrivateKey(public_key->get()));
  EXPECT_EQ(*PublicAttributesFromKey(*public_key, nullptr), pair_->public_attributes);
  EXPECT_TRUE(CheckPublicMatchesPrivate(*public_key, *key).ok());
  EXPECT_TRUE(HasRv(PrivateAttributesFromKey(*public_key, nullptr), CKR_KEY_TYPE_INCONSISTENT));
}

TEST_F(RsaKeyTest, WithoutCrtComponents) {
  AttributeBytes attrs = {
      {CKA_MODULUS, pair_->private_attributes.at(CKA_MODULUS)},
      {CKA_PUBLIC_EXPONENT, pair_->private_attributes.at(CKA_PUBLIC_EXPONENT)},
      {CKA_PRIVATE_EXPONENT, pair_->private_attributes.at(CKA_PRIVATE_EXPONENT)}};
  auto key = PrivateKeyFromAttributes(CKK_RSA, attrs);
  ASSERT_TRUE(key.ok()) << key.status();
  MechanismParams params;
  params.type = CKM_SHA256_RSA_PKCS;
  auto signature = (*NewSignOperation(params, *key, ""))->SignOnce("data");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_TRUE((*NewVerifyOperation(params, pair_->key, ""))->VerifyOnce("data", *signature).ok());
  // The CRT parts are recovered, so the key is complete: it exports, and
  // reads back with the primes the generator chose.
  EXPECT_EQ(*PrivateAttributesFromKey(*key, nullptr), pair_->private_attributes);
  EXPECT_TRUE(PrivateKeyToPkcs8(*key).ok());

  std::string& d = attrs[CKA_PRIVATE_EXPONENT];
  d[d.size() - 1] ^= 0x02;
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_RSA, attrs), CKR_ATTRIBUTE_VALUE_INVALID));
}

TEST_F(RsaKeyTest, InconsistentOrIncompleteMaterialIsRefused) {
  AttributeBytes wrong_prime = pair_->private_attributes;
  wrong_prime[CKA_PRIME_1][wrong_prime[CKA_PRIME_1].size() - 1] ^= 0x02;
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_RSA, wrong_prime), CKR_ATTRIBUTE_VALUE_INVALID));

  AttributeBytes wrong_coefficient = pair_->private_attributes;
  wrong_coefficient[CKA_COEFFICIENT][0] ^= 0x01;
  EXPECT_TRUE(
      HasRv(PrivateKeyFromAttributes(CKK_RSA, wrong_coefficient), CKR_ATTRIBUTE_VALUE_INVALID));

  AttributeBytes partial_crt = pair_->private_attributes;
  partial_crt.erase(CKA_EXPONENT_2);
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_RSA, partial_crt), CKR_TEMPLATE_INCOMPLETE));

  AttributeBytes no_modulus = pair_->private_attributes;
  no_modulus.erase(CKA_MODULUS);
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_RSA, no_modulus), CKR_TEMPLATE_INCOMPLETE));
  EXPECT_TRUE(HasRv(PublicKeyFromAttributes(CKK_RSA, {{CKA_PUBLIC_EXPONENT, Hex("010001")}}),
                    CKR_TEMPLATE_INCOMPLETE));
  AttributeBytes no_d = pair_->public_attributes;
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_RSA, no_d), CKR_TEMPLATE_INCOMPLETE));

  AttributeBytes even_modulus = pair_->public_attributes;
  even_modulus[CKA_MODULUS].back() &= '\xfe';
  EXPECT_TRUE(HasRv(PublicKeyFromAttributes(CKK_RSA, even_modulus), CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_TRUE(
      HasRv(PublicKeyFromAttributes(CKK_DSA, pair_->public_attributes), CKR_KEY_TYPE_INCONSISTENT));
}

TEST_F(RsaKeyTest, Pkcs8RoundTrip) {
  auto der = PrivateKeyToPkcs8(pair_->key);
  ASSERT_TRUE(der.ok()) << der.status();
  auto key = PrivateKeyFromPkcs8(*der);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*PrivateAttributesFromKey(*key, nullptr), pair_->private_attributes);
  EXPECT_TRUE(HasRv(PrivateKeyFromPkcs8(der->substr(0, der->size() - 1)), CKR_WRAPPED_KEY_INVALID));
  EXPECT_TRUE(HasRv(PrivateKeyFromPkcs8(*der + "x"), CKR_WRAPPED_KEY_INVALID));
  EXPECT_TRUE(HasRv(PrivateKeyFromPkcs8("not DER"), CKR_WRAPPED_KEY_INVALID));
}

TEST(EcKeyTest, ScalarRange) {
  auto one = PrivateKeyFromAttributes(CKK_EC, {{CKA_EC_PARAMS, kP256}, {CKA_VALUE, Hex("01")}});
  ASSERT_TRUE(one.ok()) << one.status();
  // d = 1 has the generator as its public point.
  EXPECT_EQ(ToHex(PublicAttributesFromKey(*one, nullptr)->at(CKA_EC_POINT)),
            ToHex(EncodeEcPoint(kP256Generator)));
  EXPECT_EQ(PrivateAttributesFromKey(*one, nullptr)->at(CKA_VALUE), std::string(31, '\0') + "\x01");

  std::string order_minus_one = kP256Order;
  order_minus_one.back() -= 1;
  EXPECT_TRUE(
      PrivateKeyFromAttributes(CKK_EC, {{CKA_EC_PARAMS, kP256}, {CKA_VALUE, order_minus_one}})
          .ok());
  for (const std::string& bad :
       {kP256Order, std::string(32, '\xff'), std::string(32, '\0'), std::string()}) {
    EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(CKK_EC, {{CKA_EC_PARAMS, kP256}, {CKA_VALUE, bad}}),
                      CKR_ATTRIBUTE_VALUE_INVALID))
        << ToHex(bad);
  }
  EXPECT_TRUE(
      HasRv(PrivateKeyFromAttributes(CKK_EC, {{CKA_EC_PARAMS, kP256}}), CKR_TEMPLATE_INCOMPLETE));
  EXPECT_TRUE(
      HasRv(PrivateKeyFromAttributes(CKK_EC, {{CKA_VALUE, Hex("01")}}), CKR_TEMPLATE_INCOMPLETE));
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(
                        CKK_EC, {{CKA_EC_PARAMS, Hex("06052b8104000a")}, {CKA_VALUE, Hex("01")}}),
                    CKR_CURVE_NOT_SUPPORTED));
  EXPECT_TRUE(HasRv(PrivateKeyFromAttributes(
                        CKK_EC, {{CKA_EC_PARAMS, Hex("06032b6570")}, {CKA_VALUE, Hex("01")}}),
                    CKR_CURVE_NOT_SUPPORTED));
}

TEST(EcKeyTest, PublicPoints) {
  auto pair = GenerateEcKeyPair(kP256);
  ASSERT_TRUE(pair.ok());
  std::string der_point = pair->public_attributes.at(CKA_EC_POINT);
  ASSERT_EQ(der_point.size(), 67u);
  EXPECT_EQ(ToHex(der_point.substr(0, 3)), "044104");
  std::string raw_point = der_point.substr(2);
  for (const std::string& point : {der_point, raw_point}) {
    auto key = PublicKeyFromAttributes(CKK_EC, {{CKA_EC_PARAMS, kP256}, {CKA_EC_POINT, point}});
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_TRUE(CheckPublicMatchesPrivate(*key, pair->key).ok());
  }
  std::string off_curve = raw_point;
  off_curve[40] ^= 1;
  EXPECT_TRUE(
      HasRv(PublicKeyFromAttributes(CKK_EC, {{CKA_EC_PARAMS, kP256}, {CKA_EC_POINT, off_curve}}),
            CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_TRUE(HasRv(PublicKeyFromAttributes(
                        CKK_EC, {{CKA_EC_PARAMS, kP256}, {CKA_EC_POINT, raw_point.substr(1)}}),
                    CKR_ATTRIBUTE_VALUE_INVALID));
  auto other = GenerateEcKeyPair(kP256);
  auto other_public = PublicKeyFromAttributes(CKK_EC, other->public_attributes);
  EXPECT_TRUE(
      HasRv(CheckPublicMatchesPrivate(*other_public, pair->key), CKR_ATTRIBUTE_VALUE_INVALID));
}

TEST(EcKeyTest, BarePointThatLooksLikeDer) {
  const CurveInfo& p256 = **CurveFromParams(kP256);
  // 04 3f ... is 65 bytes: a DER OCTET STRING of 63 bytes, which is no point.
  std::string raw = std::string("\x04\x3f", 2) + std::string(63, '\x11');
  EXPECT_EQ(*DecodeEcPoint(raw, p256), raw);
  EXPECT_EQ(*DecodeEcPoint(EncodeEcPoint(raw), p256), raw);
  std::string long_point(133, '\x04');
  EXPECT_EQ(ToHex(EncodeEcPoint(long_point).substr(0, 3)), "048185");
}

TEST(EcKeyTest, CurveParams) {
  EXPECT_EQ((*CurveFromParams(Hex("06052b81040022")))->field_bytes, 48u);
  EXPECT_EQ((*CurveFromParams(Hex("06052b81040023")))->field_bytes, 66u);
  EXPECT_EQ((*CurveFromParams(std::string("\x13\x0c", 2) + "edwards25519"))->curve,
            Curve::kEd25519);
  EXPECT_TRUE(
      HasRv(CurveFromParams(std::string("\x13\x0a", 2) + "edwards448"), CKR_CURVE_NOT_SUPPORTED));
  EXPECT_TRUE(HasRv(CurveFromParams(""), CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_TRUE(HasRv(CurveFromParams(Hex("0608")), CKR_ATTRIBUTE_VALUE_INVALID));
}

TEST(EcKeyTest, Pkcs8RoundTrips) {
  for (const std::string& params : {kP256, Hex("06052b81040023")}) {
    auto pair = GenerateEcKeyPair(params);
    ASSERT_TRUE(pair.ok());
    auto der = PrivateKeyToPkcs8(pair->key);
    ASSERT_TRUE(der.ok()) << der.status();
    auto key = PrivateKeyFromPkcs8(*der);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(*PrivateAttributesFromKey(*key, nullptr), pair->private_attributes);
    EXPECT_EQ(*PublicAttributesFromKey(*key, nullptr), pair->public_attributes);
  }
  auto ed = GenerateEdwardsKeyPair(Hex("06032b6570"));
  ASSERT_TRUE(ed.ok());
  auto der = PrivateKeyToPkcs8(ed->key);
  ASSERT_TRUE(der.ok());
  auto key = PrivateKeyFromPkcs8(*der);
  ASSERT_TRUE(key.ok()) << key.status();
  CK_KEY_TYPE type = 0;
  EXPECT_EQ(*PrivateAttributesFromKey(*key, &type), ed->private_attributes);
  EXPECT_EQ(type, static_cast<CK_KEY_TYPE>(CKK_EC_EDWARDS));
}

TEST(SecretKeyTest, Lengths) {
  for (CK_ULONG length : {16, 24, 32})
    EXPECT_EQ(GenerateSecretKey(CKK_AES, length)->size(), length);
  EXPECT_TRUE(HasRv(GenerateSecretKey(CKK_AES, 20), CKR_KEY_SIZE_RANGE));
  EXPECT_EQ(GenerateSecretKey(CKK_GENERIC_SECRET, 1)->size(), 1u);
  EXPECT_EQ(GenerateSecretKey(CKK_SHA256_HMAC, 512)->size(), 512u);
  EXPECT_TRUE(HasRv(GenerateSecretKey(CKK_GENERIC_SECRET, 0), CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(GenerateSecretKey(CKK_GENERIC_SECRET, 513), CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(GenerateSecretKey(CKK_RSA, 16), CKR_KEY_TYPE_INCONSISTENT));
  EXPECT_NE(*GenerateSecretKey(CKK_AES, 32), *GenerateSecretKey(CKK_AES, 32));
}

}  // namespace
}  // namespace hsm::server::crypto
