#include "client/attribute_codec.h"

#include <cstring>

#include "client/mechanism_codec.h"
#include "gtest/gtest.h"

namespace hsm::client {
namespace {

TEST(AttributeCodecTest, KindsOfStandardAndVendorAttributes) {
  EXPECT_EQ(KindOf(CKA_CLASS), AttributeKind::kUlong);
  EXPECT_EQ(KindOf(CKA_MODULUS_BITS), AttributeKind::kUlong);
  EXPECT_EQ(KindOf(CKA_TOKEN), AttributeKind::kBool);
  EXPECT_EQ(KindOf(CKA_ID), AttributeKind::kBytes);
  EXPECT_EQ(KindOf(CKA_WRAP_TEMPLATE), AttributeKind::kAttributeArray);
  EXPECT_EQ(KindOf(CKA_ALLOWED_MECHANISMS), AttributeKind::kMechanismArray);
  EXPECT_EQ(KindOf(CKA_VENDOR_DEFINED | 0x1234), AttributeKind::kBytes);
  // NSS's CKA_TRUST_SERVER_AUTH holds a CK_TRUST, a CK_ULONG.
  EXPECT_EQ(KindOf(CKA_VENDOR_DEFINED | 0x4E534350 | 0x2000 | 8), AttributeKind::kUlong);
}

TEST(AttributeCodecTest, EncodesTypedValues) {
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_BBOOL yes = CK_TRUE;
  CK_BYTE id[] = {1, 2, 3};
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_TOKEN, &yes, sizeof(yes)}, {CKA_ID, id, 3},
                         {CKA_LABEL, nullptr, 0}};
  google::protobuf::RepeatedPtrField<hsm::v1::Attribute> out;
  ASSERT_EQ(EncodeTemplate(tmpl, 4, &out), static_cast<CK_RV>(CKR_OK));
  ASSERT_EQ(out.size(), 4);
  EXPECT_EQ(out[0].ulong(), CKO_CERTIFICATE);
  EXPECT_TRUE(out[1].boolean());
  EXPECT_EQ(out[2].bytes(), std::string("\x01\x02\x03", 3));
  EXPECT_EQ(out[3].value_case(), hsm::v1::Attribute::kBytes);
  EXPECT_TRUE(out[3].bytes().empty());
}

TEST(AttributeCodecTest, RefusesValuesOfTheWrongSize) {
  CK_ULONG value = 1;
  CK_ATTRIBUTE short_ulong = {CKA_CLASS, &value, 4};
  CK_ATTRIBUTE long_bool = {CKA_TOKEN, &value, sizeof(value)};
  CK_ATTRIBUTE null_with_length = {CKA_ID, nullptr, 5};
  google::protobuf::RepeatedPtrField<hsm::v1::Attribute> out;
  EXPECT_EQ(EncodeTemplate(&short_ulong, 1, &out), static_cast<CK_RV>(CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_EQ(EncodeTemplate(&long_bool, 1, &out), static_cast<CK_RV>(CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_EQ(EncodeTemplate(&null_with_length, 1, &out), static_cast<CK_RV>(CKR_ATTRIBUTE_VALUE_INVALID));
  EXPECT_EQ(EncodeTemplate(nullptr, 1, &out), static_cast<CK_RV>(CKR_ARGUMENTS_BAD));
}

TEST(AttributeCodecTest, NestedTemplatesRoundTrip) {
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE inner[] = {{CKA_EXTRACTABLE, &no, sizeof(no)}};
  CK_ATTRIBUTE outer = {CKA_WRAP_TEMPLATE, inner, sizeof(inner)};
  google::protobuf::RepeatedPtrField<hsm::v1::Attribute> out;
  ASSERT_EQ(EncodeTemplate(&outer, 1, &out), static_cast<CK_RV>(CKR_OK));
  ASSERT_EQ(out[0].attributes().attributes_size(), 1);

  CK_ATTRIBUTE query = {CKA_WRAP_TEMPLATE, nullptr, 0};
  ASSERT_EQ(DecodeInto(out[0], query), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(query.ulValueLen, sizeof(CK_ATTRIBUTE));
  CK_BBOOL got = CK_TRUE;
  CK_ATTRIBUTE entries[1] = {{0, &got, sizeof(got)}};
  query.pValue = entries;
  ASSERT_EQ(DecodeInto(out[0], query), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(entries[0].type, static_cast<CK_ATTRIBUTE_TYPE>(CKA_EXTRACTABLE));
  EXPECT_EQ(got, CK_FALSE);
}

// Templates do not nest. An array that contains itself would otherwise be
// followed until the stack ran out.
TEST(AttributeCodecTest, ArraysInsideArraysAreInvalid) {
  CK_ATTRIBUTE self[1];
  self[0] = {CKA_WRAP_TEMPLATE, self, sizeof(self)};
  google::protobuf::RepeatedPtrField<hsm::v1::Attribute> out;
  EXPECT_EQ(EncodeTemplate(self, 1, &out), static_cast<CK_RV>(CKR_ATTRIBUTE_VALUE_INVALID));

  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE innermost[] = {{CKA_SENSITIVE, &yes, sizeof(yes)}};
  CK_ATTRIBUTE inner[] = {{CKA_UNWRAP_TEMPLATE, innermost, sizeof(innermost)}};
  CK_ATTRIBUTE outer = {CKA_WRAP_TEMPLATE, inner, sizeof(inner)};
  out.Clear();
  EXPECT_EQ(EncodeTemplate(&outer, 1, &out), static_cast<CK_RV>(CKR_ATTRIBUTE_VALUE_INVALID));
}

TEST(AttributeCodecTest, DecodeFollowsTheBufferRules) {
  hsm::v1::Attribute value;
  value.set_type(CKA_LABEL);
  value.set_bytes("hello");
  CK_ATTRIBUTE length_query = {CKA_LABEL, nullptr, 0};
  EXPECT_EQ(DecodeInto(value, length_query), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(length_query.ulValueLen, 5u);
  char small[3];
  CK_ATTRIBUTE too_small = {CKA_LABEL, small, sizeof(small)};
  EXPECT_EQ(DecodeInto(value, too_small), static_cast<CK_RV>(CKR_BUFFER_TOO_SMALL));
  EXPECT_EQ(too_small.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  char big[16];
  CK_ATTRIBUTE fits = {CKA_LABEL, big, sizeof(big)};
  EXPECT_EQ(DecodeInto(value, fits), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(std::string(big, fits.ulValueLen), "hello");

  hsm::v1::Attribute ulong_value;
  ulong_value.set_ulong(CKK_EC);
  CK_KEY_TYPE key_type = 0;
  CK_ATTRIBUTE typed = {CKA_KEY_TYPE, &key_type, sizeof(key_type)};
  EXPECT_EQ(DecodeInto(ulong_value, typed), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(key_type, static_cast<CK_KEY_TYPE>(CKK_EC));
}

TEST(MechanismCodecTest, TypedParameters) {
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM mechanism = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
  hsm::v1::Mechanism out;
  ASSERT_EQ(EncodeMechanism(&mechanism, &out), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(out.pss().hash_alg(), CKM_SHA256);
  EXPECT_EQ(out.pss().salt_len(), 32u);

  CK_BYTE iv[12] = {1}, aad[4] = {2};
  CK_GCM_PARAMS gcm = {iv, sizeof(iv), 96, aad, sizeof(aad), 128};
  mechanism = {CKM_AES_GCM, &gcm, sizeof(gcm)};
  out.Clear();
  ASSERT_EQ(EncodeMechanism(&mechanism, &out), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(out.gcm().iv().size(), 12u);
  EXPECT_EQ(out.gcm().tag_bits(), 128u);

  CK_BYTE cbc_iv[16] = {0};
  mechanism = {CKM_AES_CBC_PAD, cbc_iv, sizeof(cbc_iv)};
  out.Clear();
  ASSERT_EQ(EncodeMechanism(&mechanism, &out), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(out.iv().size(), 16u);

  mechanism = {CKM_SHA256, nullptr, 0};
  out.Clear();
  ASSERT_EQ(EncodeMechanism(&mechanism, &out), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(out.parameter_case(), hsm::v1::Mechanism::PARAMETER_NOT_SET);
}

TEST(MechanismCodecTest, WrongParameterSizesAreRefused) {
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM short_pss = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss) - 1};
  hsm::v1::Mechanism out;
  EXPECT_EQ(EncodeMechanism(&short_pss, &out), static_cast<CK_RV>(CKR_MECHANISM_PARAM_INVALID));
  CK_MECHANISM null_oaep = {CKM_RSA_PKCS_OAEP, nullptr, 0};
  EXPECT_EQ(EncodeMechanism(&null_oaep, &out), static_cast<CK_RV>(CKR_MECHANISM_PARAM_INVALID));
  EXPECT_EQ(EncodeMechanism(nullptr, &out), static_cast<CK_RV>(CKR_ARGUMENTS_BAD));
}

}  // namespace
}  // namespace hsm::client
