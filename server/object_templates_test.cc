// The attribute rules, one table per rule family.
#include "server/object_templates.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rv.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::server {
namespace {

hsm::v1::Attribute U(uint64_t type, uint64_t v) { return MakeUlong(type, v); }
hsm::v1::Attribute B(uint64_t type, bool v) { return MakeBool(type, v); }
hsm::v1::Attribute S(uint64_t type, std::string v) { return MakeBytes(type, std::move(v)); }

Template T(std::initializer_list<hsm::v1::Attribute> attributes) {
  Template t;
  for (const auto& a : attributes) *t.Add() = a;
  return t;
}

// An attribute holding a template (CKA_WRAP_TEMPLATE ...).
hsm::v1::Attribute L(uint64_t type, std::initializer_list<hsm::v1::Attribute> entries) {
  hsm::v1::Attribute list;
  list.set_type(type);
  hsm::v1::AttributeList* values = list.mutable_attributes();  // set even when empty
  for (const auto& a : entries) *values->add_attributes() = a;
  return list;
}

AttributeSet Implied(std::initializer_list<hsm::v1::Attribute> attributes) {
  AttributeSet set;
  for (const auto& a : attributes) set[a.type()] = a;
  return set;
}

Template Certificate(std::initializer_list<hsm::v1::Attribute> more = {}) {
  Template t = T({U(CKA_CLASS, CKO_CERTIFICATE), U(CKA_CERTIFICATE_TYPE, CKC_X_509), S(CKA_SUBJECT, "subject"),
                  S(CKA_VALUE, "der")});
  for (const auto& a : more) *t.Add() = a;
  return t;
}

Template AesKey(std::initializer_list<hsm::v1::Attribute> more = {}) {
  Template t = T({U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), S(CKA_VALUE, std::string(16, 'k'))});
  for (const auto& a : more) *t.Add() = a;
  return t;
}

uint64_t RvOf(const absl::Status& status) { return ToRv(status); }

struct CreateCase {
  const char* name;
  Template tmpl;
  uint64_t rv;
};

TEST(ObjectTemplatesTest, CreationTemplates) {
  const CreateCase cases[] = {
      {"data object", T({U(CKA_CLASS, CKO_DATA), S(CKA_VALUE, "x")}), CKR_OK},
      {"certificate", Certificate(), CKR_OK},
      {"aes key", AesKey(), CKR_OK},
      {"vendor class keeps anything", T({U(CKA_CLASS, CKO_VENDOR_DEFINED | 3), S(0x1234, "x")}), CKR_OK},
      {"vendor attribute on a standard class", Certificate({S(CKA_VENDOR_DEFINED | 5, "nss")}), CKR_OK},
      // Required attributes.
      {"no class", T({S(CKA_LABEL, "x")}), CKR_TEMPLATE_INCOMPLETE},
      {"certificate without type", T({U(CKA_CLASS, CKO_CERTIFICATE), S(CKA_VALUE, "x")}), CKR_TEMPLATE_INCOMPLETE},
      {"certificate without value",
       T({U(CKA_CLASS, CKO_CERTIFICATE), U(CKA_CERTIFICATE_TYPE, CKC_X_509), S(CKA_SUBJECT, "s")}),
       CKR_TEMPLATE_INCOMPLETE},
      {"key without type", T({U(CKA_CLASS, CKO_SECRET_KEY), S(CKA_VALUE, "k")}), CKR_TEMPLATE_INCOMPLETE},
      {"secret key without value", T({U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES)}),
       CKR_TEMPLATE_INCOMPLETE},
      {"rsa private key without private exponent",
       T({U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_RSA), S(CKA_MODULUS, "n")}), CKR_TEMPLATE_INCOMPLETE},
      // Conflicts.
      {"class twice, two values", T({U(CKA_CLASS, CKO_DATA), U(CKA_CLASS, CKO_CERTIFICATE)}),
       CKR_TEMPLATE_INCONSISTENT},
      {"value_len disagrees with value", AesKey({U(CKA_VALUE_LEN, 32)}), CKR_TEMPLATE_INCONSISTENT},
      // Read-only attributes.
      {"local", AesKey({B(CKA_LOCAL, true)}), CKR_ATTRIBUTE_READ_ONLY},
      {"always sensitive", AesKey({B(CKA_ALWAYS_SENSITIVE, true)}), CKR_ATTRIBUTE_READ_ONLY},
      {"never extractable", AesKey({B(CKA_NEVER_EXTRACTABLE, true)}), CKR_ATTRIBUTE_READ_ONLY},
      {"key gen mechanism", AesKey({U(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN)}), CKR_ATTRIBUTE_READ_ONLY},
      {"trusted set by a user", Certificate({B(CKA_TRUSTED, true)}), CKR_ATTRIBUTE_READ_ONLY},
      // Bad values.
      {"class as bytes", T({S(CKA_CLASS, "data")}), CKR_ATTRIBUTE_VALUE_INVALID},
      {"token as ulong", T({U(CKA_CLASS, CKO_DATA), U(CKA_TOKEN, 1)}), CKR_ATTRIBUTE_VALUE_INVALID},
      {"unsupported class", T({U(CKA_CLASS, CKO_HW_FEATURE)}), CKR_ATTRIBUTE_VALUE_INVALID},
      {"unsupported key type", T({U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_RC4), S(CKA_VALUE, "k")}),
       CKR_ATTRIBUTE_VALUE_INVALID},
      {"aes key of 15 bytes",
       T({U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), S(CKA_VALUE, std::string(15, 'k'))}),
       CKR_ATTRIBUTE_VALUE_INVALID},
      // Unknown types on standard classes.
      {"modulus on a data object", T({U(CKA_CLASS, CKO_DATA), S(CKA_MODULUS, "n")}), CKR_ATTRIBUTE_TYPE_INVALID},
      {"key type on a certificate", Certificate({U(CKA_KEY_TYPE, CKK_RSA)}), CKR_ATTRIBUTE_TYPE_INVALID},
  };
  for (const CreateCase& c : cases) {
    EXPECT_EQ(RvOf(NewObject(c.tmpl, Origin::kCreate, false).status()), c.rv) << c.name;
  }
}

TEST(ObjectTemplatesTest, DefaultsAndTokenMaintainedAttributes) {
  auto key = NewObject(AesKey(), Origin::kCreate, false);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(BoolOf(*key, CKA_TOKEN, true));
  EXPECT_TRUE(BoolOf(*key, CKA_PRIVATE, false));
  EXPECT_TRUE(BoolOf(*key, CKA_SENSITIVE, false));
  EXPECT_FALSE(BoolOf(*key, CKA_EXTRACTABLE, true));
  EXPECT_TRUE(BoolOf(*key, CKA_MODIFIABLE, false));
  EXPECT_FALSE(BoolOf(*key, CKA_LOCAL, true));
  // Imported: never guaranteed sensitive.
  EXPECT_FALSE(BoolOf(*key, CKA_ALWAYS_SENSITIVE, true));
  EXPECT_FALSE(BoolOf(*key, CKA_NEVER_EXTRACTABLE, true));
  EXPECT_EQ(UlongOf(*key, CKA_VALUE_LEN, 0), 16u);
  EXPECT_EQ(UlongOf(*key, CKA_KEY_GEN_MECHANISM, 0), CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(SecretTypes(*key), std::set<uint64_t>{CKA_VALUE});

  auto generated = NewObject(T({U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES)}), Origin::kGenerate, false,
                             Implied({S(CKA_VALUE, std::string(32, 'g')), U(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN)}));
  ASSERT_TRUE(generated.ok()) << generated.status();
  EXPECT_TRUE(BoolOf(*generated, CKA_LOCAL, false));
  EXPECT_TRUE(BoolOf(*generated, CKA_ALWAYS_SENSITIVE, false));
  EXPECT_TRUE(BoolOf(*generated, CKA_NEVER_EXTRACTABLE, false));
  EXPECT_EQ(UlongOf(*generated, CKA_VALUE_LEN, 0), 32u);

  auto rsa_public = NewObject(T({U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, CKK_RSA),
                                 S(CKA_MODULUS, std::string("\x01") + std::string(255, '\xff')),
                                 S(CKA_PUBLIC_EXPONENT, "\x01\x00\x01")}),
                              Origin::kCreate, false);
  ASSERT_TRUE(rsa_public.ok());
  EXPECT_EQ(UlongOf(*rsa_public, CKA_MODULUS_BITS, 0), 2041u);
  EXPECT_FALSE(BoolOf(*rsa_public, CKA_PRIVATE, true));
  EXPECT_TRUE(SecretTypes(*rsa_public).empty());
}

TEST(ObjectTemplatesTest, TheSecurityOfficerMayTrust) {
  EXPECT_TRUE(NewObject(Certificate({B(CKA_TRUSTED, true)}), Origin::kCreate, true).ok());
}

struct ChangeCase {
  const char* name;
  Template change;
  bool copying;
  uint64_t rv;
};

TEST(ObjectTemplatesTest, Changes) {
  auto key = NewObject(AesKey({B(CKA_SENSITIVE, false), B(CKA_EXTRACTABLE, true)}), Origin::kCreate, false);
  ASSERT_TRUE(key.ok());
  const ChangeCase cases[] = {
      {"label", T({S(CKA_LABEL, "new")}), false, CKR_OK},
      {"id", T({S(CKA_ID, "\x01")}), false, CKR_OK},
      {"usage flag", T({B(CKA_ENCRYPT, false)}), false, CKR_OK},
      {"sensitive false to true", T({B(CKA_SENSITIVE, true)}), false, CKR_OK},
      {"extractable true to false", T({B(CKA_EXTRACTABLE, false)}), false, CKR_OK},
      {"same value of a read-only attribute", T({U(CKA_CLASS, CKO_SECRET_KEY)}), false, CKR_OK},
      {"class", T({U(CKA_CLASS, CKO_DATA)}), false, CKR_ATTRIBUTE_READ_ONLY},
      {"key value", T({S(CKA_VALUE, std::string(16, 'z'))}), false, CKR_ATTRIBUTE_READ_ONLY},
      {"local", T({B(CKA_LOCAL, true)}), false, CKR_ATTRIBUTE_READ_ONLY},
      {"token by set", T({B(CKA_TOKEN, true)}), false, CKR_ATTRIBUTE_READ_ONLY},
      {"token by copy", T({B(CKA_TOKEN, true)}), true, CKR_OK},
      {"private by copy", T({B(CKA_PRIVATE, false)}), true, CKR_OK},
      {"modifiable off by copy", T({B(CKA_MODIFIABLE, false)}), true, CKR_OK},
      {"trusted by a user", T({B(CKA_TRUSTED, true)}), false, CKR_ATTRIBUTE_READ_ONLY},
      {"unknown type", T({S(CKA_MODULUS, "n")}), false, CKR_ATTRIBUTE_TYPE_INVALID},
      {"wrong kind", T({S(CKA_ENCRYPT, "yes")}), false, CKR_ATTRIBUTE_VALUE_INVALID},
      {"vendor attribute", T({S(CKA_VENDOR_DEFINED | 9, "v")}), false, CKR_OK},
  };
  for (const ChangeCase& c : cases) {
    AttributeSet object = *key;
    EXPECT_EQ(RvOf(ApplyChanges(object, c.change, false, c.copying)), c.rv) << c.name;
  }

  AttributeSet sensitive = *NewObject(AesKey(), Origin::kCreate, false);
  EXPECT_EQ(RvOf(ApplyChanges(sensitive, T({B(CKA_SENSITIVE, false)}), false, false)), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(RvOf(ApplyChanges(sensitive, T({B(CKA_EXTRACTABLE, true)}), false, false)), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(RvOf(ApplyChanges(sensitive, T({B(CKA_MODIFIABLE, true)}), false, true)), CKR_OK);  // unchanged
  // A failed change changes nothing.
  AttributeSet object = *key;
  EXPECT_FALSE(ApplyChanges(object, T({S(CKA_LABEL, "half"), U(CKA_CLASS, CKO_DATA)}), false, false).ok());
  EXPECT_EQ(*BytesOf(object, CKA_LABEL), "");
}

TEST(ObjectTemplatesTest, ReadingKeyMaterial) {
  AttributeSet hidden = *NewObject(AesKey(), Origin::kCreate, false);
  EXPECT_EQ(Readable(hidden, CKA_VALUE), static_cast<uint64_t>(CKR_ATTRIBUTE_SENSITIVE));
  EXPECT_EQ(Readable(hidden, CKA_VALUE_LEN), static_cast<uint64_t>(CKR_OK));
  EXPECT_EQ(Readable(hidden, CKA_MODULUS), static_cast<uint64_t>(CKR_ATTRIBUTE_TYPE_INVALID));
  AttributeSet sensitive_but_extractable =
      *NewObject(AesKey({B(CKA_EXTRACTABLE, true)}), Origin::kCreate, false);
  EXPECT_EQ(Readable(sensitive_but_extractable, CKA_VALUE), static_cast<uint64_t>(CKR_ATTRIBUTE_SENSITIVE));
  AttributeSet open = *NewObject(AesKey({B(CKA_SENSITIVE, false), B(CKA_EXTRACTABLE, true)}), Origin::kCreate, false);
  EXPECT_EQ(Readable(open, CKA_VALUE), static_cast<uint64_t>(CKR_OK));
  AttributeSet certificate = *NewObject(Certificate(), Origin::kCreate, false);
  EXPECT_EQ(Readable(certificate, CKA_VALUE), static_cast<uint64_t>(CKR_OK));
}

TEST(ObjectTemplatesTest, Matching) {
  AttributeSet certificate = *NewObject(Certificate({S(CKA_ID, "\x07"), S(CKA_LABEL, "ca")}), Origin::kCreate, false);
  auto query = [](std::initializer_list<hsm::v1::Attribute> q) { return *ToAttributeSet(T(q)); };
  EXPECT_TRUE(Matches(certificate, {}, {}));
  EXPECT_TRUE(Matches(certificate, query({U(CKA_CLASS, CKO_CERTIFICATE), S(CKA_ID, "\x07")}), {}));
  EXPECT_FALSE(Matches(certificate, query({S(CKA_ID, "\x08")}), {}));
  EXPECT_FALSE(Matches(certificate, query({S(CKA_MODULUS, "n")}), {}));
  AttributeSet key = *NewObject(AesKey(), Origin::kCreate, false);
  EXPECT_FALSE(Matches(key, query({S(CKA_VALUE, std::string(16, 'k'))}), SecretTypes(key)));
}

// Templates hold plain values: a list inside a list is refused wherever a
// template arrives (creation, change, search), vendor attributes included.
TEST(ObjectTemplatesTest, TemplatesDoNotNest) {
  const hsm::v1::Attribute flat = L(CKA_UNWRAP_TEMPLATE, {B(CKA_SENSITIVE, true), U(CKA_CLASS, CKO_SECRET_KEY)});
  ASSERT_TRUE(NewObject(AesKey({flat}), Origin::kCreate, false).ok());
  const hsm::v1::Attribute nested = L(CKA_UNWRAP_TEMPLATE, {L(CKA_WRAP_TEMPLATE, {B(CKA_SENSITIVE, true)})});
  EXPECT_EQ(RvOf(NewObject(AesKey({nested}), Origin::kCreate, false).status()), CKR_ATTRIBUTE_VALUE_INVALID);
  const hsm::v1::Attribute vendor = L(CKA_VENDOR_DEFINED | 1, {L(CKA_VENDOR_DEFINED | 2, {})});
  EXPECT_EQ(RvOf(NewObject(AesKey({vendor}), Origin::kCreate, false).status()), CKR_ATTRIBUTE_VALUE_INVALID);
  AttributeSet key = *NewObject(AesKey(), Origin::kCreate, false);
  EXPECT_EQ(RvOf(ApplyChanges(key, T({nested}), false, false)), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(RvOf(ToAttributeSet(T({nested})).status()), CKR_ATTRIBUTE_VALUE_INVALID);
}

TEST(ObjectTemplatesTest, WrapTemplateSaysWhichKeysMayBeWrapped) {
  AttributeSet key = *NewObject(AesKey({S(CKA_LABEL, "session"), B(CKA_EXTRACTABLE, true)}), Origin::kCreate, false);
  auto wrapper = [](std::initializer_list<hsm::v1::Attribute> wanted) {
    return *NewObject(AesKey({L(CKA_WRAP_TEMPLATE, wanted)}), Origin::kCreate, false);
  };
  EXPECT_TRUE(CheckWrapTemplate(*NewObject(AesKey(), Origin::kCreate, false), key).ok());
  EXPECT_TRUE(CheckWrapTemplate(wrapper({}), key).ok());
  EXPECT_TRUE(CheckWrapTemplate(wrapper({S(CKA_LABEL, "session"), U(CKA_KEY_TYPE, CKK_AES)}), key).ok());
  EXPECT_EQ(RvOf(CheckWrapTemplate(wrapper({S(CKA_LABEL, "other")}), key)), CKR_KEY_NOT_WRAPPABLE);
  EXPECT_EQ(RvOf(CheckWrapTemplate(wrapper({S(CKA_MODULUS, "n")}), key)), CKR_KEY_NOT_WRAPPABLE);
  // Key material never matches: a wrap template must not be a way to test it.
  EXPECT_EQ(RvOf(CheckWrapTemplate(wrapper({S(CKA_VALUE, std::string(16, 'k'))}), key)), CKR_KEY_NOT_WRAPPABLE);
  EXPECT_EQ(RvOf(CheckWrapTemplate(wrapper({S(CKA_LABEL, "session"), S(CKA_LABEL, "other")}), key)),
            CKR_KEY_NOT_WRAPPABLE);
}

TEST(ObjectTemplatesTest, UnwrapTemplateJoinsTheCallersTemplate) {
  const AttributeSet unwrapper = *NewObject(
      AesKey({L(CKA_UNWRAP_TEMPLATE, {B(CKA_EXTRACTABLE, false), U(CKA_CLASS, CKO_SECRET_KEY)})}), Origin::kCreate,
      false);
  const Template asked = T({U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), S(CKA_LABEL, "unwrapped")});
  absl::StatusOr<Template> joined = WithUnwrapTemplate(unwrapper, asked);
  ASSERT_TRUE(joined.ok());
  AttributeSet set = *ToAttributeSet(*joined);
  EXPECT_EQ(set.size(), 4u);
  EXPECT_FALSE(BoolOf(set, CKA_EXTRACTABLE, true));
  EXPECT_EQ(*BytesOf(set, CKA_LABEL), "unwrapped");
  Template contrary = asked;
  *contrary.Add() = B(CKA_EXTRACTABLE, true);
  EXPECT_EQ(RvOf(WithUnwrapTemplate(unwrapper, contrary).status()), CKR_TEMPLATE_INCONSISTENT);
  const AttributeSet plain = *NewObject(AesKey(), Origin::kCreate, false);
  EXPECT_EQ(WithUnwrapTemplate(plain, asked)->size(), asked.size());
}

}  // namespace
}  // namespace hsm::server
