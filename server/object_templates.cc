#include "server/object_templates.h"

#include "server/rv.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::server {
namespace {

bool IsKeyClass(uint64_t object_class) {
  return object_class == CKO_PUBLIC_KEY || object_class == CKO_PRIVATE_KEY || object_class == CKO_SECRET_KEY;
}

// The number of significant bits of a big-endian unsigned integer.
uint64_t BitLength(const std::string& big_endian) {
  size_t i = 0;
  while (i < big_endian.size() && big_endian[i] == 0) ++i;
  if (i == big_endian.size()) return 0;
  uint64_t bits = (big_endian.size() - i - 1) * 8;
  for (unsigned char top = static_cast<unsigned char>(big_endian[i]); top != 0; top >>= 1) ++bits;
  return bits;
}

absl::Status CheckSecretKeyLength(uint64_t key_type, size_t length) {
  bool ok = true;
  switch (key_type) {
    case CKK_AES:
      ok = length == 16 || length == 24 || length == 32;
      break;
    case CKK_DES3:
      ok = length == 24;
      break;
    case CKK_GENERIC_SECRET:
      ok = length >= 1;
      break;
  }
  return ok ? absl::OkStatus() : RvError(CKR_ATTRIBUTE_VALUE_INVALID, "secret key length");
}

// Sets a token-derived attribute; a template may name it only with the value
// the token derives.
absl::Status Derive(AttributeSet& object, const hsm::v1::Attribute& value) {
  auto it = object.find(value.type());
  if (it != object.end() && !SameValue(it->second, value)) return RvError(CKR_TEMPLATE_INCONSISTENT);
  object[value.type()] = value;
  return absl::OkStatus();
}

// The attributes the token maintains for a new object.
absl::Status AddDerived(AttributeSet& object, Origin origin, const AttributeSet& implied) {
  const uint64_t object_class = UlongOf(object, CKA_CLASS, 0);
  if (!IsKeyClass(object_class)) return absl::OkStatus();
  const uint64_t key_type = UlongOf(object, CKA_KEY_TYPE, 0);
  auto implied_or = [&](uint64_t type, hsm::v1::Attribute fallback) {
    auto it = implied.find(type);
    return it != implied.end() ? it->second : fallback;
  };
  object[CKA_LOCAL] = implied_or(CKA_LOCAL, MakeBool(CKA_LOCAL, origin == Origin::kGenerate));
  object[CKA_KEY_GEN_MECHANISM] =
      implied_or(CKA_KEY_GEN_MECHANISM, MakeUlong(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION));
  if (object_class != CKO_PUBLIC_KEY) {
    // Material that came from outside (created, unwrapped) was never
    // guaranteed sensitive; generated material always was what it is now.
    const bool generated = origin == Origin::kGenerate;
    object[CKA_ALWAYS_SENSITIVE] = implied_or(
        CKA_ALWAYS_SENSITIVE, MakeBool(CKA_ALWAYS_SENSITIVE, generated && BoolOf(object, CKA_SENSITIVE, false)));
    object[CKA_NEVER_EXTRACTABLE] = implied_or(
        CKA_NEVER_EXTRACTABLE, MakeBool(CKA_NEVER_EXTRACTABLE, generated && !BoolOf(object, CKA_EXTRACTABLE, true)));
  }
  if (key_type == CKK_RSA && object_class == CKO_PUBLIC_KEY) {
    if (const std::string* modulus = BytesOf(object, CKA_MODULUS)) {
      HSM_RETURN_IF_ERROR(Derive(object, MakeUlong(CKA_MODULUS_BITS, BitLength(*modulus))));
    }
  }
  if (object_class == CKO_SECRET_KEY) {
    if (const std::string* value = BytesOf(object, CKA_VALUE)) {
      HSM_RETURN_IF_ERROR(CheckSecretKeyLength(key_type, value->size()));
      HSM_RETURN_IF_ERROR(Derive(object, MakeUlong(CKA_VALUE_LEN, value->size())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AttributeSet> ToAttributeSet(const Template& attributes) {
  AttributeSet set;
  for (const hsm::v1::Attribute& attribute : attributes) {
    if (!IsWellFormed(attribute)) return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "a template inside a template");
    auto [it, inserted] = set.emplace(attribute.type(), attribute);
    if (!inserted && !SameValue(it->second, attribute)) return RvError(CKR_TEMPLATE_INCONSISTENT);
  }
  return set;
}

absl::StatusOr<AttributeSet> NewObject(const Template& attributes, Origin origin, bool security_officer,
                                       const AttributeSet& implied) {
  HSM_ASSIGN_OR_RETURN(AttributeSet given, ToAttributeSet(attributes));
  AttributeSet object = given;
  for (const auto& [type, value] : implied) {
    auto it = object.find(type);
    if (it != object.end() && !SameValue(it->second, value)) return RvError(CKR_TEMPLATE_INCONSISTENT);
    object[type] = value;
  }

  auto class_it = object.find(CKA_CLASS);
  if (class_it == object.end()) return RvError(CKR_TEMPLATE_INCOMPLETE, "no CKA_CLASS");
  if (!HasKind(class_it->second, Kind::kUlong)) return RvError(CKR_ATTRIBUTE_VALUE_INVALID);
  const uint64_t object_class = class_it->second.ulong();
  uint64_t subtype = 0;
  if (object_class == CKO_CERTIFICATE || IsKeyClass(object_class)) {
    const uint64_t subtype_type = object_class == CKO_CERTIFICATE ? CKA_CERTIFICATE_TYPE : CKA_KEY_TYPE;
    auto it = object.find(subtype_type);
    if (it == object.end()) return RvError(CKR_TEMPLATE_INCOMPLETE, "no key or certificate type");
    if (!HasKind(it->second, Kind::kUlong)) return RvError(CKR_ATTRIBUTE_VALUE_INVALID);
    subtype = it->second.ulong();
  }
  const Schema* schema = SchemaFor(object_class, subtype);
  if (schema == nullptr) return RvError(CKR_ATTRIBUTE_VALUE_INVALID, "unsupported class or type");

  for (const auto& [type, value] : given) {
    auto spec_it = schema->attributes.find(type);
    if (spec_it == schema->attributes.end()) {
      if (schema->open || IsVendorAttribute(type)) continue;
      return RvError(CKR_ATTRIBUTE_TYPE_INVALID);
    }
    const AttributeSpec& spec = spec_it->second;
    if (!HasKind(value, spec.kind)) return RvError(CKR_ATTRIBUTE_VALUE_INVALID);
    const bool settable_here = (spec.rules & kGenerated) != 0;  // checked against the derived value
    if ((spec.rules & kTokenSet) != 0 && !settable_here) return RvError(CKR_ATTRIBUTE_READ_ONLY);
    if ((spec.rules & kOnlySoSetsTrue) != 0 && value.boolean() && !security_officer) {
      return RvError(CKR_ATTRIBUTE_READ_ONLY, "only the SO sets CKA_TRUSTED");
    }
  }
  for (const auto& [type, spec] : schema->attributes) {
    if (object.count(type) != 0) continue;
    if ((spec.rules & kRequired) != 0) return RvError(CKR_TEMPLATE_INCOMPLETE);
    if (spec.default_value.has_value()) object[type] = *spec.default_value;
  }
  HSM_RETURN_IF_ERROR(AddDerived(object, origin, implied));
  return object;
}

absl::Status ApplyChanges(AttributeSet& object, const Template& changes, bool security_officer, bool copying) {
  const Schema* schema = SchemaOf(object);
  if (schema == nullptr) return RvError(CKR_GENERAL_ERROR, "stored object of unknown kind");
  HSM_ASSIGN_OR_RETURN(AttributeSet wanted, ToAttributeSet(changes));
  AttributeSet result = object;
  for (const auto& [type, value] : wanted) {
    auto spec_it = schema->attributes.find(type);
    if (spec_it == schema->attributes.end()) {
      if (schema->open || IsVendorAttribute(type)) {
        result[type] = value;
        continue;
      }
      return RvError(CKR_ATTRIBUTE_TYPE_INVALID);
    }
    const AttributeSpec& spec = spec_it->second;
    if (!HasKind(value, spec.kind)) return RvError(CKR_ATTRIBUTE_VALUE_INVALID);
    auto current = object.find(type);
    if (current != object.end() && SameValue(current->second, value)) continue;  // no change
    const uint32_t rules = spec.rules;
    if ((rules & kTokenSet) != 0) return RvError(CKR_ATTRIBUTE_READ_ONLY);
    if ((rules & kCreateOnly) != 0 && !(copying && (rules & kCopyChanges) != 0)) {
      return RvError(CKR_ATTRIBUTE_READ_ONLY);
    }
    if ((rules & kOnlyToTrue) != 0 && !value.boolean()) return RvError(CKR_ATTRIBUTE_READ_ONLY);
    if ((rules & kOnlyToFalse) != 0 && value.boolean()) return RvError(CKR_ATTRIBUTE_READ_ONLY);
    if ((rules & kOnlySoSetsTrue) != 0 && value.boolean() && !security_officer) {
      return RvError(CKR_ATTRIBUTE_READ_ONLY);
    }
    result[type] = value;
  }
  object = std::move(result);
  return absl::OkStatus();
}

std::set<uint64_t> SecretTypes(const AttributeSet& object) {
  std::set<uint64_t> secret;
  const Schema* schema = SchemaOf(object);
  if (schema == nullptr) return secret;
  for (const auto& [type, spec] : schema->attributes) {
    if ((spec.rules & kSecret) != 0 && object.count(type) != 0) secret.insert(type);
  }
  return secret;
}

uint64_t Readable(const AttributeSet& object, uint64_t type) {
  if (object.count(type) == 0) return CKR_ATTRIBUTE_TYPE_INVALID;
  const Schema* schema = SchemaOf(object);
  if (schema == nullptr) return CKR_OK;
  auto spec = schema->attributes.find(type);
  if (spec != schema->attributes.end() && (spec->second.rules & kSecret) != 0 &&
      (BoolOf(object, CKA_SENSITIVE, true) || !BoolOf(object, CKA_EXTRACTABLE, false))) {
    return CKR_ATTRIBUTE_SENSITIVE;
  }
  return CKR_OK;
}

bool Matches(const AttributeSet& object, const AttributeSet& query, const std::set<uint64_t>& sealed) {
  for (const auto& [type, want] : query) {
    if (sealed.count(type) != 0) return false;
    auto it = object.find(type);
    if (it == object.end() || !SameValue(it->second, want)) return false;
  }
  return true;
}

absl::Status CheckWrapTemplate(const AttributeSet& wrapping_key, const AttributeSet& key) {
  auto it = wrapping_key.find(CKA_WRAP_TEMPLATE);
  if (it == wrapping_key.end() || !it->second.has_attributes()) return absl::OkStatus();
  absl::StatusOr<AttributeSet> wanted = ToAttributeSet(it->second.attributes().attributes());
  // A template that contradicts itself matches no key.
  if (!wanted.ok() || !Matches(key, *wanted, SecretTypes(key))) {
    return RvError(CKR_KEY_NOT_WRAPPABLE, "the key does not match the wrapping key's CKA_WRAP_TEMPLATE");
  }
  return absl::OkStatus();
}

absl::StatusOr<Template> WithUnwrapTemplate(const AttributeSet& unwrapping_key, const Template& given) {
  Template joined = given;
  auto it = unwrapping_key.find(CKA_UNWRAP_TEMPLATE);
  if (it == unwrapping_key.end() || !it->second.has_attributes()) return joined;
  for (const hsm::v1::Attribute& imposed : it->second.attributes().attributes()) {
    for (const hsm::v1::Attribute& asked : given) {
      if (asked.type() == imposed.type() && !SameValue(asked, imposed)) {
        return RvError(CKR_TEMPLATE_INCONSISTENT,
                       "the template disagrees with the unwrapping key's CKA_UNWRAP_TEMPLATE");
      }
    }
    *joined.Add() = imposed;
  }
  return joined;
}

}  // namespace hsm::server
