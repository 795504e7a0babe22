// The mechanisms this library implements, with the key sizes and flags
// C_GetMechanismInfo reports, and which key type each one takes.
//
// Key sizes follow PKCS #11's units: bits for RSA, EC, Edwards and
// CKM_GENERIC_SECRET_KEY_GEN; bytes for AES, DES3 and HMAC keys; zero where
// the mechanism takes no key (digests). CKF_HW is not in the table: whether
// to claim it is the server's call when it answers C_GetMechanismInfo.
#ifndef HSM_SERVER_CRYPTO_MECHANISM_TABLE_H_
#define HSM_SERVER_CRYPTO_MECHANISM_TABLE_H_

#include <vector>

#include "absl/status/status.h"
#include "server/crypto/pkcs11_extra.h"

namespace hsm::server::crypto {

struct MechanismInfo {
  CK_MECHANISM_TYPE type;
  CK_ULONG min_key_size;
  CK_ULONG max_key_size;
  CK_FLAGS flags;
};

// Every implemented mechanism, sorted by type.
const std::vector<MechanismInfo>& Mechanisms();
// nullptr if `type` is not implemented.
const MechanismInfo* FindMechanism(CK_MECHANISM_TYPE type);

// OK if a key of `key_type` may be used with `mechanism` (for example CKK_AES
// with CKM_AES_GCM; CKK_GENERIC_SECRET or CKK_SHA256_HMAC with
// CKM_SHA256_HMAC). CKR_MECHANISM_INVALID for an unknown mechanism,
// CKR_KEY_TYPE_INCONSISTENT otherwise. For key generation mechanisms,
// `key_type` is the type of the key generated.
absl::Status CheckKeyTypeForMechanism(CK_MECHANISM_TYPE mechanism, CK_KEY_TYPE key_type);

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_MECHANISM_TABLE_H_
