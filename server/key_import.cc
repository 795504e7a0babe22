#include "server/key_import.h"

#include "server/attribute_rules.h"
#include "server/blocking.h"
#include "server/crypto/key_material.h"
#include "server/rv.h"

namespace hsm::server {

absl::Status CheckImportedKey(const storage::AttributeSet& object) {
  const uint64_t object_class = UlongOf(object, CKA_CLASS, 0);
  if (object_class != CKO_PRIVATE_KEY && object_class != CKO_PUBLIC_KEY) return absl::OkStatus();
  crypto::AttributeBytes bytes;
  for (const auto& [type, value] : object) {
    if (value.value_case() == hsm::v1::Attribute::kBytes) bytes[type] = value.bytes();
  }
  const CK_KEY_TYPE key_type = UlongOf(object, CKA_KEY_TYPE, 0);
  if (object_class == CKO_PRIVATE_KEY) {
    // An RSA key's checks (its primes recovered if absent, OpenSSL's pairwise
    // and primality checks) take from ms to a tenth of a second (8192 bits).
    if (key_type == CKK_RSA) LongCall();
    return crypto::PrivateKeyFromAttributes(key_type, bytes).status();
  }
  return crypto::PublicKeyFromAttributes(key_type, bytes).status();
}

}  // namespace hsm::server
