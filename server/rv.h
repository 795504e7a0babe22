// PKCS #11 results inside absl::Status: server code returns absl::Status and
// the CK_RV rides along as a payload; ToRv turns it back into the reply's rv.
#ifndef HSM_SERVER_RV_H_
#define HSM_SERVER_RV_H_

#include "third_party/pkcs11/pkcs11.h"

#include <string>

#include "absl/status/status.h"

namespace hsm::server {

// A failed status carrying `rv`. `message` is for the server log only; it
// never reaches the client, and must not hold PINs or key material.
absl::Status RvError(CK_RV rv, std::string message = "");

// CKR_OK for OK; the carried CK_RV if there is one; CKR_DEVICE_MEMORY for
// ResourceExhausted (storage without room); CKR_DEVICE_ERROR for any other
// failure (a storage or internal fault). Failures without a CK_RV are logged.
CK_RV ToRv(const absl::Status& status);

// The CK_RV `status` carries, if any (for tests).
bool CarriesRv(const absl::Status& status, CK_RV rv);

}  // namespace hsm::server

// Returns from the calling function if `expr` (an absl::Status) failed.
#define HSM_RETURN_IF_ERROR(expr)                     \
  do {                                                \
    absl::Status hsm_status_ = (expr);                \
    if (!hsm_status_.ok()) return hsm_status_;        \
  } while (0)

#define HSM_CONCAT_INNER_(a, b) a##b
#define HSM_CONCAT_(a, b) HSM_CONCAT_INNER_(a, b)
// `lhs` = the value of `expr` (an absl::StatusOr), or return its error.
#define HSM_ASSIGN_OR_RETURN(lhs, expr) \
  HSM_ASSIGN_OR_RETURN_IMPL_(HSM_CONCAT_(hsm_statusor_, __LINE__), lhs, expr)
#define HSM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // HSM_SERVER_RV_H_
