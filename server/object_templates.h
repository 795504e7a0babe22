// Templates against the attribute rules (attribute_rules.h): making a new
// object from a creation template, changing one with C_SetAttributeValue or
// C_CopyObject, what a client may read, and what a search matches.
#ifndef HSM_SERVER_OBJECT_TEMPLATES_H_
#define HSM_SERVER_OBJECT_TEMPLATES_H_

#include <cstdint>
#include <set>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "server/attribute_rules.h"

namespace hsm::server {

using Template = google::protobuf::RepeatedPtrField<hsm::v1::Attribute>;

// How a new object comes to be.
enum class Origin { kCreate, kGenerate, kUnwrap, kDerive };

// The template as a set; CKR_TEMPLATE_INCONSISTENT if a type is given twice
// with different values, CKR_ATTRIBUTE_VALUE_INVALID for a nested attribute
// list (IsWellFormed).
absl::StatusOr<AttributeSet> ToAttributeSet(const Template& attributes);

// A complete new object from a template, or the precise CK_RV:
// CKR_TEMPLATE_INCOMPLETE (a required attribute is missing),
// CKR_TEMPLATE_INCONSISTENT (conflicting values), CKR_ATTRIBUTE_READ_ONLY (an
// attribute the token sets, or CKA_TRUSTED set by a user),
// CKR_ATTRIBUTE_VALUE_INVALID (a bad value or an unsupported class or type),
// CKR_ATTRIBUTE_TYPE_INVALID (an attribute the object cannot have).
// `implied` are attributes the operation itself fixes (the class and key type
// of a generated key, its material, CKA_LOCAL ...); the template may repeat
// them only with the same value.
absl::StatusOr<AttributeSet> NewObject(const Template& attributes, Origin origin, bool security_officer,
                                       const AttributeSet& implied = {});

// Applies a C_SetAttributeValue template (or, with `copying`, the template of
// C_CopyObject, which may also change CKA_TOKEN, CKA_PRIVATE and turn off
// CKA_MODIFIABLE and CKA_COPYABLE).
absl::Status ApplyChanges(AttributeSet& object, const Template& changes, bool security_officer, bool copying);

// The types of the object's key material, sealed at rest.
std::set<uint64_t> SecretTypes(const AttributeSet& object);

// CKR_OK if a client may read attribute `type` of `object`,
// CKR_ATTRIBUTE_SENSITIVE for hidden key material, CKR_ATTRIBUTE_TYPE_INVALID
// if the object has no such attribute.
uint64_t Readable(const AttributeSet& object, uint64_t type);

// Whether `object` has every attribute of `query` with the same value. Key
// material never matches: a search must not reveal it.
bool Matches(const AttributeSet& object, const AttributeSet& query, const std::set<uint64_t>& sealed);

// C_WrapKey (PKCS #11 2.40 section 5.13): CKR_KEY_NOT_WRAPPABLE unless `key`
// matches the wrapping key's CKA_WRAP_TEMPLATE, if it has one.
absl::Status CheckWrapTemplate(const AttributeSet& wrapping_key, const AttributeSet& key);

// C_UnwrapKey (section 5.13): the caller's template with the unwrapping key's
// CKA_UNWRAP_TEMPLATE added, or CKR_TEMPLATE_INCONSISTENT where the two
// disagree.
absl::StatusOr<Template> WithUnwrapTemplate(const AttributeSet& unwrapping_key, const Template& given);

}  // namespace hsm::server

#endif  // HSM_SERVER_OBJECT_TEMPLATES_H_
