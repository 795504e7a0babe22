// AES key wrap against RFC 3394 section 4 and RFC 5649 section 6, and
// C_WrapKey / C_UnwrapKey semantics over the other wrapping mechanisms.
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

MechanismParams Params(CK_MECHANISM_TYPE type, std::string iv = "") {
  MechanismParams params;
  params.type = type;
  params.iv = std::move(iv);
  return params;
}

struct WrapVector {
  const char* name;
  CK_MECHANISM_TYPE mechanism;
  std::string kek, key, wrapped;
};

class KeyWrapVectorTest : public ::testing::TestWithParam<WrapVector> {};

TEST_P(KeyWrapVectorTest, WrapsAndUnwraps) {
  const WrapVector& v = GetParam();
  auto wrapped = WrapKey(Params(v.mechanism), nullptr, v.kek, v.key);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_EQ(ToHex(*wrapped), ToHex(v.wrapped));
  auto unwrapped = UnwrapKey(Params(v.mechanism), nullptr, v.kek, v.wrapped, 0);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_EQ(ToHex(*unwrapped), ToHex(v.key));

  // Also as C_Encrypt / C_Decrypt.
  auto enc = NewEncryptOperation(Params(v.mechanism), nullptr, v.kek);
  ASSERT_TRUE(enc.ok());
  EXPECT_GE((*enc)->MaxOutputLength(v.key.size()), v.wrapped.size());
  EXPECT_EQ(ToHex(*(*enc)->Once(v.key)), ToHex(v.wrapped));
  EXPECT_TRUE(HasRv((*enc)->Update(v.key), CKR_FUNCTION_NOT_SUPPORTED));

  std::string tampered = v.wrapped;
  tampered[3] ^= 0x10;
  EXPECT_TRUE(
      HasRv(UnwrapKey(Params(v.mechanism), nullptr, v.kek, tampered, 0), CKR_WRAPPED_KEY_INVALID));
  auto dec = NewDecryptOperation(Params(v.mechanism), nullptr, v.kek);
  ASSERT_TRUE(dec.ok());
  EXPECT_TRUE(HasRv((*dec)->Once(tampered), CKR_ENCRYPTED_DATA_INVALID));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc3394Rfc5649, KeyWrapVectorTest,
    ::testing::Values(
        WrapVector{"Rfc3394_4_1", CKM_AES_KEY_WRAP, Hex("000102030405060708090A0B0C0D0E0F"),
                   Hex("00112233445566778899AABBCCDDEEFF"),
                   Hex("1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5")},
        WrapVector{"Rfc3394_4_6", CKM_AES_KEY_WRAP,
                   Hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"),
                   Hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"),
                   Hex("28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326"
                       "CBC7F0E71A99F43B FB988B9B7A02DD21")},
        WrapVector{"Rfc5649_20Bytes", CKM_AES_KEY_WRAP_PAD,
                   Hex("5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8"),
                   Hex("c37b7e6492584340 bed1220780894115 5068f738"),
                   Hex("138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a")},
        WrapVector{"Rfc5649_7Bytes", CKM_AES_KEY_WRAP_PAD,
                   Hex("5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8"), Hex("466f7250617369"),
                   Hex("afbeb0f07dfbf541 9200f2ccb50bb24f")}),
    [](const ::testing::TestParamInfo<WrapVector>& info) { return std::string(info.param.name); });

TEST(KeyWrapTest, LengthRules) {
  std::string kek(16, 'k');
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_AES_KEY_WRAP), nullptr, kek, std::string(20, 'a')),
                    CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_AES_KEY_WRAP), nullptr, kek, std::string(8, 'a')),
                    CKR_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(UnwrapKey(Params(CKM_AES_KEY_WRAP), nullptr, kek, std::string(20, 'a'), 0),
                    CKR_WRAPPED_KEY_LEN_RANGE));
  EXPECT_TRUE(HasRv(UnwrapKey(Params(CKM_AES_KEY_WRAP_PAD), nullptr, kek, std::string(8, 'a'), 0),
                    CKR_WRAPPED_KEY_LEN_RANGE));
  EXPECT_TRUE(
      HasRv(WrapKey(Params(CKM_AES_KEY_WRAP), nullptr, std::string(17, 'k'), std::string(16, 'a')),
            CKR_WRAPPING_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(
      UnwrapKey(Params(CKM_AES_KEY_WRAP), nullptr, std::string(17, 'k'), std::string(24, 'a'), 0),
      CKR_UNWRAPPING_KEY_SIZE_RANGE));
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_AES_KEY_WRAP, "bad"), nullptr, kek, std::string(16, 'a')),
                    CKR_MECHANISM_PARAM_INVALID));
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_AES_GCM), nullptr, kek, std::string(16, 'a')),
                    CKR_MECHANISM_INVALID));
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_SHA256_HMAC), nullptr, kek, std::string(16, 'a')),
                    CKR_MECHANISM_INVALID));
}

TEST(KeyWrapTest, CustomIvMustMatchOnUnwrap) {
  std::string kek(16, 'k');
  std::string key(16, 'x');
  auto wrapped = WrapKey(Params(CKM_AES_KEY_WRAP, std::string(8, '\x11')), nullptr, kek, key);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(*UnwrapKey(Params(CKM_AES_KEY_WRAP, std::string(8, '\x11')), nullptr, kek, *wrapped, 0),
            key);
  EXPECT_TRUE(HasRv(UnwrapKey(Params(CKM_AES_KEY_WRAP), nullptr, kek, *wrapped, 0),
                    CKR_WRAPPED_KEY_INVALID));
}

TEST(KeyWrapTest, BlockModesZeroPadAndTrimByValueLength) {
  std::string kek = *GenerateSecretKey(CKK_AES, 32);
  std::string key = *GenerateSecretKey(CKK_GENERIC_SECRET, 20);
  for (CK_MECHANISM_TYPE mechanism : {CKM_AES_ECB, CKM_AES_CBC}) {
    MechanismParams params =
        Params(mechanism, mechanism == CKM_AES_CBC ? std::string(16, '\0') : "");
    auto wrapped = WrapKey(params, nullptr, kek, key);
    ASSERT_TRUE(wrapped.ok()) << wrapped.status();
    EXPECT_EQ(wrapped->size(), 32u);
    auto padded = UnwrapKey(params, nullptr, kek, *wrapped, 0);
    ASSERT_TRUE(padded.ok());
    EXPECT_EQ(*padded, key + std::string(12, '\0'));
    EXPECT_EQ(*UnwrapKey(params, nullptr, kek, *wrapped, 20), key);
    // Trimming more than the padding could have added is refused.
    EXPECT_TRUE(HasRv(UnwrapKey(params, nullptr, kek, *wrapped, 8), CKR_TEMPLATE_INCONSISTENT));
    EXPECT_TRUE(HasRv(UnwrapKey(params, nullptr, kek, *wrapped, 40), CKR_TEMPLATE_INCONSISTENT));
  }
  MechanismParams pad = Params(CKM_AES_CBC_PAD, std::string(16, '\x07'));
  auto wrapped = WrapKey(pad, nullptr, kek, key);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(*UnwrapKey(pad, nullptr, kek, *wrapped, 0), key);
  EXPECT_TRUE(HasRv(UnwrapKey(pad, nullptr, kek, *wrapped, 16), CKR_TEMPLATE_INCONSISTENT));
}

TEST(KeyWrapTest, Pkcs8PrivateKeyUnderKeyWrapPad) {
  auto pair = GenerateEcKeyPair(Hex("06082a8648ce3d030107"));
  ASSERT_TRUE(pair.ok());
  auto der = PrivateKeyToPkcs8(pair->key);
  ASSERT_TRUE(der.ok());
  std::string kek = *GenerateSecretKey(CKK_AES, 16);
  auto wrapped = WrapKey(Params(CKM_AES_KEY_WRAP_PAD), nullptr, kek, *der);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  auto unwrapped = UnwrapKey(Params(CKM_AES_KEY_WRAP_PAD), nullptr, kek, *wrapped, 0);
  ASSERT_TRUE(unwrapped.ok());
  auto key = PrivateKeyFromPkcs8(*unwrapped);
  ASSERT_TRUE(key.ok()) << key.status();
  CK_KEY_TYPE type = 0;
  auto attrs = PrivateAttributesFromKey(*key, &type);
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(type, static_cast<CK_KEY_TYPE>(CKK_EC));
  EXPECT_EQ(attrs->at(CKA_VALUE), pair->private_attributes.at(CKA_VALUE));
}

TEST(KeyWrapTest, WrongKeyKind) {
  auto pair = GenerateEcKeyPair(Hex("06082a8648ce3d030107"));
  ASSERT_TRUE(pair.ok());
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_AES_KEY_WRAP), pair->key, "", std::string(16, 'a')),
                    CKR_WRAPPING_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(HasRv(WrapKey(Params(CKM_RSA_PKCS), pair->key, "", std::string(16, 'a')),
                    CKR_WRAPPING_KEY_TYPE_INCONSISTENT));
  EXPECT_TRUE(
      HasRv(UnwrapKey(Params(CKM_RSA_PKCS), nullptr, std::string(16, 'k'), std::string(16, 'a'), 0),
            CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT));
}

}  // namespace
}  // namespace hsm::server::crypto
