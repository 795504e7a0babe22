#include "client/attribute_codec.h"

#include <cstring>
#include <unordered_set>

namespace hsm::client {
namespace {

// NSS's trust attributes (nss/pkcs11n.h): CK_TRUST values are CK_ULONGs.
constexpr CK_ATTRIBUTE_TYPE kNssTrust = CKA_VENDOR_DEFINED | 0x4E534350 | 0x2000;
constexpr CK_ATTRIBUTE_TYPE kNssTrustStepUpApproved = kNssTrust + 16;

const std::unordered_set<CK_ATTRIBUTE_TYPE>& UlongAttributes() {
  static const auto* set = new std::unordered_set<CK_ATTRIBUTE_TYPE>{
      CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_KEY_TYPE, CKA_CERTIFICATE_CATEGORY,
      CKA_JAVA_MIDP_SECURITY_DOMAIN, CKA_NAME_HASH_ALGORITHM, CKA_MODULUS_BITS, CKA_PRIME_BITS,
      CKA_SUB_PRIME_BITS, CKA_VALUE_BITS, CKA_VALUE_LEN, CKA_KEY_GEN_MECHANISM, CKA_HW_FEATURE_TYPE,
      CKA_PIXEL_X, CKA_PIXEL_Y, CKA_RESOLUTION, CKA_CHAR_ROWS, CKA_CHAR_COLUMNS, CKA_BITS_PER_PIXEL,
      CKA_MECHANISM_TYPE, CKA_OTP_FORMAT, CKA_OTP_LENGTH, CKA_OTP_TIME_INTERVAL,
      CKA_OTP_CHALLENGE_REQUIREMENT, CKA_OTP_TIME_REQUIREMENT, CKA_OTP_COUNTER_REQUIREMENT,
      CKA_OTP_PIN_REQUIREMENT, CKA_OTP_USER_IDENTIFIER, CKA_OTP_SERVICE_IDENTIFIER,
      // NSS trust: digital signature ... time stamping.
      kNssTrust + 1, kNssTrust + 2, kNssTrust + 3, kNssTrust + 4, kNssTrust + 5, kNssTrust + 6,
      kNssTrust + 7, kNssTrust + 8, kNssTrust + 9, kNssTrust + 10, kNssTrust + 11, kNssTrust + 12,
      kNssTrust + 13, kNssTrust + 14, kNssTrust + 15};
  return *set;
}

const std::unordered_set<CK_ATTRIBUTE_TYPE>& BoolAttributes() {
  static const auto* set = new std::unordered_set<CK_ATTRIBUTE_TYPE>{
      CKA_TOKEN, CKA_PRIVATE, CKA_TRUSTED, CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP,
      CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_DERIVE,
      CKA_EXTRACTABLE, CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_MODIFIABLE,
      CKA_COPYABLE, CKA_DESTROYABLE, CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED,
      CKA_RESET_ON_INIT, CKA_HAS_RESET, CKA_COLOR, CKA_OTP_USER_FRIENDLY_MODE,
      kNssTrustStepUpApproved};
  return *set;
}

CK_RV EncodeList(const CK_ATTRIBUTE* attributes, CK_ULONG count, bool inside_array,
                 google::protobuf::RepeatedPtrField<hsm::v1::Attribute>* out);

// `inside_array`: `in` is an entry of an attribute array, which may not be an
// array itself (templates do not nest, and an array that points to itself
// would never end).
CK_RV EncodeOne(const CK_ATTRIBUTE& in, bool inside_array, hsm::v1::Attribute* out) {
  out->set_type(in.type);
  if (in.pValue == nullptr && in.ulValueLen != 0) return CKR_ATTRIBUTE_VALUE_INVALID;
  switch (KindOf(in.type)) {
    case AttributeKind::kUlong:
      if (in.ulValueLen != sizeof(CK_ULONG)) return CKR_ATTRIBUTE_VALUE_INVALID;
      out->set_ulong(*static_cast<const CK_ULONG*>(in.pValue));
      return CKR_OK;
    case AttributeKind::kBool:
      if (in.ulValueLen != sizeof(CK_BBOOL)) return CKR_ATTRIBUTE_VALUE_INVALID;
      out->set_boolean(*static_cast<const CK_BBOOL*>(in.pValue) != CK_FALSE);
      return CKR_OK;
    case AttributeKind::kAttributeArray: {
      if (inside_array || in.ulValueLen % sizeof(CK_ATTRIBUTE) != 0) return CKR_ATTRIBUTE_VALUE_INVALID;
      auto* nested = out->mutable_attributes()->mutable_attributes();
      return EncodeList(static_cast<const CK_ATTRIBUTE*>(in.pValue), in.ulValueLen / sizeof(CK_ATTRIBUTE),
                        /*inside_array=*/true, nested);
    }
    case AttributeKind::kMechanismArray: {
      if (in.ulValueLen % sizeof(CK_MECHANISM_TYPE) != 0) return CKR_ATTRIBUTE_VALUE_INVALID;
      auto* types = out->mutable_mechanisms();
      const auto* values = static_cast<const CK_MECHANISM_TYPE*>(in.pValue);
      for (CK_ULONG i = 0; i < in.ulValueLen / sizeof(CK_MECHANISM_TYPE); ++i) types->add_types(values[i]);
      return CKR_OK;
    }
    case AttributeKind::kBytes:
      break;
  }
  out->set_bytes(in.pValue == nullptr ? std::string()
                                      : std::string(static_cast<const char*>(in.pValue), in.ulValueLen));
  return CKR_OK;
}

CK_RV EncodeList(const CK_ATTRIBUTE* attributes, CK_ULONG count, bool inside_array,
                 google::protobuf::RepeatedPtrField<hsm::v1::Attribute>* out) {
  if (attributes == nullptr && count != 0) return CKR_ARGUMENTS_BAD;
  out->Reserve(static_cast<int>(count));
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_RV rv = EncodeOne(attributes[i], inside_array, out->Add());
    if (rv != CKR_OK) return rv;
  }
  return CKR_OK;
}

}  // namespace

AttributeKind KindOf(CK_ATTRIBUTE_TYPE type) {
  if (type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE) {
    return AttributeKind::kAttributeArray;
  }
  if (type == CKA_ALLOWED_MECHANISMS) return AttributeKind::kMechanismArray;
  if (UlongAttributes().count(type) != 0) return AttributeKind::kUlong;
  if (BoolAttributes().count(type) != 0) return AttributeKind::kBool;
  return AttributeKind::kBytes;
}

CK_RV EncodeTemplate(const CK_ATTRIBUTE* attributes, CK_ULONG count,
                     google::protobuf::RepeatedPtrField<hsm::v1::Attribute>* out) {
  return EncodeList(attributes, count, /*inside_array=*/false, out);
}

CK_ULONG ClientLength(const hsm::v1::Attribute& value) {
  switch (value.value_case()) {
    case hsm::v1::Attribute::kUlong:
      return sizeof(CK_ULONG);
    case hsm::v1::Attribute::kBoolean:
      return sizeof(CK_BBOOL);
    case hsm::v1::Attribute::kAttributes:
      return value.attributes().attributes_size() * sizeof(CK_ATTRIBUTE);
    case hsm::v1::Attribute::kMechanisms:
      return value.mechanisms().types_size() * sizeof(CK_MECHANISM_TYPE);
    case hsm::v1::Attribute::kBytes:
      return value.bytes().size();
    case hsm::v1::Attribute::VALUE_NOT_SET:
      break;
  }
  return 0;
}

CK_RV DecodeInto(const hsm::v1::Attribute& value, CK_ATTRIBUTE& out) {
  const CK_ULONG length = ClientLength(value);
  if (out.pValue == nullptr) {
    out.ulValueLen = length;
    return CKR_OK;
  }
  if (out.ulValueLen < length) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  switch (value.value_case()) {
    case hsm::v1::Attribute::kUlong: {
      CK_ULONG v = value.ulong();
      std::memcpy(out.pValue, &v, sizeof(v));
      break;
    }
    case hsm::v1::Attribute::kBoolean:
      *static_cast<CK_BBOOL*>(out.pValue) = value.boolean() ? CK_TRUE : CK_FALSE;
      break;
    case hsm::v1::Attribute::kAttributes: {
      // The caller's array names the types and buffers it wants filled.
      auto* entries = static_cast<CK_ATTRIBUTE*>(out.pValue);
      CK_RV result = CKR_OK;
      for (int i = 0; i < value.attributes().attributes_size(); ++i) {
        const hsm::v1::Attribute& nested = value.attributes().attributes(i);
        entries[i].type = nested.type();
        CK_RV rv = DecodeInto(nested, entries[i]);
        if (rv != CKR_OK) result = rv;
      }
      out.ulValueLen = length;
      return result;
    }
    case hsm::v1::Attribute::kMechanisms: {
      auto* types = static_cast<CK_MECHANISM_TYPE*>(out.pValue);
      for (int i = 0; i < value.mechanisms().types_size(); ++i) types[i] = value.mechanisms().types(i);
      break;
    }
    case hsm::v1::Attribute::kBytes:
      if (length != 0) std::memcpy(out.pValue, value.bytes().data(), length);
      break;
    case hsm::v1::Attribute::VALUE_NOT_SET:
      break;
  }
  out.ulValueLen = length;
  return CKR_OK;
}

}  // namespace hsm::client
