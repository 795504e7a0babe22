// Key material that enters the token from outside (C_CreateObject) is checked
// with OpenSSL before it is stored: an RSA key whose components do not agree,
// or an EC scalar off the curve, is refused with CKR_ATTRIBUTE_VALUE_INVALID.
#ifndef HSM_SERVER_KEY_IMPORT_H_
#define HSM_SERVER_KEY_IMPORT_H_

#include "absl/status/status.h"
#include "storage/object_store.h"

namespace hsm::server {

// OK for objects that are not asymmetric keys.
absl::Status CheckImportedKey(const storage::AttributeSet& object);

}  // namespace hsm::server

#endif  // HSM_SERVER_KEY_IMPORT_H_
