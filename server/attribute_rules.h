// The PKCS #11 2.40 attribute rules (sections 4.4 to 4.10), as tables: for each
// object class and key or certificate type, which attributes an object has,
// their kind, their default, and how they may be set and changed.
#ifndef HSM_SERVER_ATTRIBUTE_RULES_H_
#define HSM_SERVER_ATTRIBUTE_RULES_H_

#include <cstdint>
#include <map>
#include <optional>

#include "proto/hsm/v1/pkcs11.pb.h"
#include "storage/object_store.h"

namespace hsm::server {

using storage::AttributeSet;

enum class Kind { kUlong, kBool, kBytes, kAttributes, kMechanisms };

// How an attribute may be set and changed.
enum Rule : uint32_t {
  kRequired = 1 << 0,        // a C_CreateObject template must give it
  kCreateOnly = 1 << 1,      // given at creation, never changed afterwards
  kTokenSet = 1 << 2,        // maintained by the token; never in a creation template
  kSecret = 1 << 3,          // key material: sealed at rest, hidden if sensitive or unextractable
  kGenerated = 1 << 4,       // in C_GenerateKey(Pair) / C_UnwrapKey / C_DeriveKey templates only
  kOnlySoSetsTrue = 1 << 5,  // only the SO may set it to true (CKA_TRUSTED)
  kOnlyToTrue = 1 << 6,      // may change only from false to true (CKA_SENSITIVE)
  kOnlyToFalse = 1 << 7,     // may change only from true to false (CKA_EXTRACTABLE)
  kCopyChanges = 1 << 8,     // C_CopyObject may change it although C_SetAttributeValue may not
};

struct AttributeSpec {
  Kind kind;
  uint32_t rules = 0;
  std::optional<hsm::v1::Attribute> default_value;
};

// The attributes of one kind of object, by type. `open` schemas (vendor-defined
// classes) accept any further attribute verbatim.
struct Schema {
  std::map<uint64_t, AttributeSpec> attributes;
  bool open = false;
};

// The schema for an object of `object_class` whose key type or certificate
// type is `subtype`; nullptr if hsmd does not keep such objects.
const Schema* SchemaFor(uint64_t object_class, uint64_t subtype);

// The schema for a complete object (its CKA_CLASS and subtype attributes).
const Schema* SchemaOf(const AttributeSet& object);

// Whether `type` is vendor-defined (kept verbatim on any object).
bool IsVendorAttribute(uint64_t type);

// Whether `value` has the kind `kind` (ulong, bool, bytes ...).
bool HasKind(const hsm::v1::Attribute& value, Kind kind);

// Whether `value` is one PKCS #11 can express: an attribute list (a wrap or
// unwrap template) holds plain values only, since templates do not nest.
bool IsWellFormed(const hsm::v1::Attribute& value);

// Whether `key`'s CKA_ALLOWED_MECHANISMS, if it has one, lists `mechanism`.
bool AllowsMechanism(const AttributeSet& key, uint64_t mechanism);

// Typed accessors with a fallback.
bool BoolOf(const AttributeSet& set, uint64_t type, bool fallback);
uint64_t UlongOf(const AttributeSet& set, uint64_t type, uint64_t fallback);
const std::string* BytesOf(const AttributeSet& set, uint64_t type);

using storage::MakeBool;
using storage::MakeBytes;
using storage::MakeUlong;

// Whether two values are equal (kind and value).
bool SameValue(const hsm::v1::Attribute& a, const hsm::v1::Attribute& b);

}  // namespace hsm::server

#endif  // HSM_SERVER_ATTRIBUTE_RULES_H_
