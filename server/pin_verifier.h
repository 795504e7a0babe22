// PINs are never stored: a token keeps a salted PBKDF2-HMAC-SHA256 verifier
// of each, slow enough that a stolen database does not give them away.
#ifndef HSM_SERVER_PIN_VERIFIER_H_
#define HSM_SERVER_PIN_VERIFIER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/records.pb.h"

namespace hsm::server {

absl::StatusOr<storage::PinVerifier> MakePinVerifier(std::string_view pin, uint64_t iterations);

// True if `pin` is the PIN `verifier` was made from (constant time).
bool PinMatches(std::string_view pin, const storage::PinVerifier& verifier);

}  // namespace hsm::server

#endif  // HSM_SERVER_PIN_VERIFIER_H_
