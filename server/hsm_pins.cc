// PIN checks with failure counting (PIN policy): every wrong PIN, at login or
// in C_SetPIN, counts; a success resets the count; at --max_pin_failures the
// PIN is locked. C_GetTokenInfo reports CKF_*_PIN_COUNT_LOW, _FINAL_TRY and
// _LOCKED from the same counts.
#include "server/hsm.h"
#include "server/pin_verifier.h"
#include "server/rv.h"

namespace hsm::server {

absl::Status Hsm::VerifyPin(uint64_t tenant_id, uint64_t slot_id, bool security_officer, const std::string& pin) {
  HSM_ASSIGN_OR_RETURN(std::optional<storage::Token> token, tokens_->GetToken(tenant_id, slot_id));
  if (!token.has_value()) return RvError(CKR_TOKEN_NOT_PRESENT);
  const uint64_t failures = security_officer ? token->so_pin_failures() : token->user_pin_failures();
  if (failures >= options_.max_pin_failures) return RvError(CKR_PIN_LOCKED);
  if (!security_officer && !token->has_user_pin()) return RvError(CKR_USER_PIN_NOT_INITIALIZED);
  const bool matches = PinMatches(pin, security_officer ? token->so_pin() : token->user_pin());
  if (matches && failures == 0) return absl::OkStatus();
  HSM_RETURN_IF_ERROR(tokens_->UpdateToken(tenant_id, slot_id, [&](storage::Token& stored) {
    if (security_officer) {
      stored.set_so_pin_failures(matches ? 0 : stored.so_pin_failures() + 1);
    } else {
      stored.set_user_pin_failures(matches ? 0 : stored.user_pin_failures() + 1);
    }
    return absl::OkStatus();
  }));
  return matches ? absl::OkStatus() : RvError(CKR_PIN_INCORRECT);
}

}  // namespace hsm::server
