// Slot and token management: what the tenant's slots hold, and the token's
// PINs (PKCS #11 2.40 sections 5.5).
#include "third_party/pkcs11/pkcs11.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "server/hsm.h"
#include "server/crypto/mechanism_table.h"
#include "server/pin_verifier.h"
#include "server/rv.h"

namespace hsm::server {
namespace {

void SetVersion(v1::Version* version) {
  version->set_major(kVersionMajor);
  version->set_minor(kVersionMinor);
}

// The label as stored: the 32-byte blank-padded field without its padding.
std::string StripLabel(const std::string& padded) {
  size_t end = padded.find_last_not_of(" \0", std::string::npos, 2);
  return end == std::string::npos ? "" : padded.substr(0, end + 1);
}

}  // namespace

absl::StatusOr<storage::Token> Hsm::TokenOf(const Application& app, uint64_t slot_id) {
  if (!app.HasSlot(slot_id)) return RvError(CKR_SLOT_ID_INVALID);
  HSM_ASSIGN_OR_RETURN(std::optional<storage::Token> token,
                       tokens_->GetToken(app.tenant_id(), slot_id));
  // The slot was there when the application started; its token has since
  // been deleted by an administrator.
  if (!token.has_value()) return RvError(CKR_TOKEN_NOT_PRESENT);
  return *std::move(token);
}

absl::Status Hsm::CheckPinLength(const std::string& pin) const {
  if (!PinLengthInRange(options_, pin.size())) return RvError(CKR_PIN_LEN_RANGE);
  return absl::OkStatus();
}

bool Hsm::AnySessionOn(uint64_t tenant_id, uint64_t slot_id) {
  bool found = false;
  apps_->ForEach(tenant_id, [&](Application& other) {
    std::lock_guard<std::mutex> lock(other.mutex());
    found = found || other.SessionCount(slot_id) > 0;
  });
  return found;
}

absl::Status Hsm::GetSlotList(Application& app, const v1::GetSlotListRequest&,
                              v1::GetSlotListReply* reply) {
  // Every slot holds its token, so token_present does not change the list.
  for (uint64_t slot_id : app.slot_ids()) reply->add_slot_ids(slot_id);
  return absl::OkStatus();
}

absl::Status Hsm::GetSlotInfo(Application& app, const v1::SlotRequest& request,
                              v1::GetSlotInfoReply* reply) {
  if (!app.HasSlot(request.slot_id())) return RvError(CKR_SLOT_ID_INVALID);
  v1::SlotInfo* info = reply->mutable_info();
  info->set_description(absl::StrCat("hsmd slot ", request.slot_id()));
  info->set_manufacturer(kManufacturer);
  // Present and not removable: NSS treats a removable token as one that can
  // vanish, and asks for the PIN again after every "insertion".
  info->set_flags(CKF_TOKEN_PRESENT);
  SetVersion(info->mutable_hardware_version());
  SetVersion(info->mutable_firmware_version());
  return absl::OkStatus();
}

absl::Status Hsm::GetTokenInfo(Application& app, const v1::SlotRequest& request,
                               v1::GetTokenInfoReply* reply) {
  HSM_ASSIGN_OR_RETURN(storage::Token token, TokenOf(app, request.slot_id()));
  v1::TokenInfo* info = reply->mutable_info();
  info->set_label(token.label());
  info->set_manufacturer(kManufacturer);
  info->set_model(kModel);
  info->set_serial_number(token.serial_number());
  uint64_t flags = CKF_RNG | CKF_LOGIN_REQUIRED;
  if (token.initialized()) flags |= CKF_TOKEN_INITIALIZED;
  if (token.has_user_pin()) flags |= CKF_USER_PIN_INITIALIZED;
  const uint64_t limit = options_.max_pin_failures;
  auto pin_flags = [limit](uint64_t failures, uint64_t count_low, uint64_t final_try, uint64_t locked) -> uint64_t {
    if (failures >= limit) return locked;
    if (failures + 1 == limit) return final_try | count_low;
    return failures > 0 ? count_low : 0;
  };
  flags |= pin_flags(token.user_pin_failures(), CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
  flags |= pin_flags(token.so_pin_failures(), CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
  info->set_flags(flags);
  {
    std::lock_guard<std::mutex> lock(app.mutex());
    info->set_session_count(app.SessionCount(request.slot_id()));
    info->set_rw_session_count(app.ReadWriteSessionCount(request.slot_id()));
  }
  const uint64_t session_limit = options_.max_sessions_per_application;
  info->set_max_session_count(session_limit != 0 ? session_limit : CK_EFFECTIVELY_INFINITE);
  info->set_max_rw_session_count(session_limit != 0 ? session_limit : CK_EFFECTIVELY_INFINITE);
  info->set_max_pin_len(options_.max_pin_len);
  info->set_min_pin_len(options_.min_pin_len);
  info->set_total_public_memory(CK_UNAVAILABLE_INFORMATION);
  info->set_free_public_memory(CK_UNAVAILABLE_INFORMATION);
  info->set_total_private_memory(CK_UNAVAILABLE_INFORMATION);
  info->set_free_private_memory(CK_UNAVAILABLE_INFORMATION);
  SetVersion(info->mutable_hardware_version());
  SetVersion(info->mutable_firmware_version());
  return absl::OkStatus();
}

absl::Status Hsm::GetMechanismList(Application& app, const v1::SlotRequest& request,
                                   v1::GetMechanismListReply* reply) {
  if (!app.HasSlot(request.slot_id())) return RvError(CKR_SLOT_ID_INVALID);
  for (const crypto::MechanismInfo& info : crypto::Mechanisms()) reply->add_types(info.type);
  return absl::OkStatus();
}

absl::Status Hsm::GetMechanismInfo(Application& app, const v1::GetMechanismInfoRequest& request,
                                   v1::GetMechanismInfoReply* reply) {
  if (!app.HasSlot(request.slot_id())) return RvError(CKR_SLOT_ID_INVALID);
  const crypto::MechanismInfo* info = crypto::FindMechanism(request.type());
  if (info == nullptr) return RvError(CKR_MECHANISM_INVALID);
  reply->set_min_key_size(info->min_key_size);
  reply->set_max_key_size(info->max_key_size);
  // CKF_HW: the mechanism runs in the device the application talks to (hsmd),
  // not in the client library. pkcs11-tool tests signatures only with it.
  reply->set_flags(info->flags | CKF_HW);
  return absl::OkStatus();
}

absl::Status Hsm::InitToken(Application& app, const v1::InitTokenRequest& request,
                            v1::StatusReply*) {
  HSM_ASSIGN_OR_RETURN(storage::Token token, TokenOf(app, request.slot_id()));
  if (AnySessionOn(app.tenant_id(), request.slot_id())) return RvError(CKR_SESSION_EXISTS);
  std::string label = StripLabel(request.label());
  if (token.initialized()) {
    HSM_RETURN_IF_ERROR(VerifyPin(app.tenant_id(), request.slot_id(), /*security_officer=*/true, request.so_pin()));
  } else {
    HSM_RETURN_IF_ERROR(CheckPinLength(request.so_pin()));
  }
  HSM_ASSIGN_OR_RETURN(storage::PinVerifier so_pin,
                       MakePinVerifier(request.so_pin(), options_.pin_kdf_iterations));
  keys_.ForgetToken(storage::TokenRef{app.tenant_id(), request.slot_id()});
  HSM_RETURN_IF_ERROR(objects_->DestroyAll(storage::TokenRef{app.tenant_id(), request.slot_id()}));
  return tokens_->UpdateToken(app.tenant_id(), request.slot_id(), [&](storage::Token& stored) {
    stored.set_label(label);
    stored.set_initialized(true);
    *stored.mutable_so_pin() = so_pin;
    stored.clear_user_pin();
    stored.set_user_pin_failures(0);
    stored.set_so_pin_failures(0);
    return absl::OkStatus();
  });
}

absl::Status Hsm::InitPIN(Application& app, const v1::InitPinRequest& request, v1::StatusReply*) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  if (!session.read_write) return RvError(CKR_SESSION_READ_ONLY);
  {
    std::lock_guard<std::mutex> lock(app.mutex());
    if (app.login(session.slot_id) != LoginState::kSecurityOfficer) {
      return RvError(CKR_USER_NOT_LOGGED_IN);
    }
  }
  HSM_RETURN_IF_ERROR(CheckPinLength(request.pin()));
  HSM_ASSIGN_OR_RETURN(storage::PinVerifier user_pin,
                       MakePinVerifier(request.pin(), options_.pin_kdf_iterations));
  return tokens_->UpdateToken(app.tenant_id(), session.slot_id, [&](storage::Token& stored) {
    *stored.mutable_user_pin() = user_pin;
    stored.set_user_pin_failures(0);  // the SO's new PIN unlocks a locked one
    return absl::OkStatus();
  });
}

absl::Status Hsm::SetPIN(Application& app, const v1::SetPinRequest& request, v1::StatusReply*) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  if (!session.read_write) return RvError(CKR_SESSION_READ_ONLY);
  bool security_officer;
  {
    std::lock_guard<std::mutex> lock(app.mutex());
    security_officer = app.login(session.slot_id) == LoginState::kSecurityOfficer;
  }
  HSM_RETURN_IF_ERROR(TokenOf(app, session.slot_id).status());
  HSM_RETURN_IF_ERROR(VerifyPin(app.tenant_id(), session.slot_id, security_officer, request.old_pin()));
  HSM_RETURN_IF_ERROR(CheckPinLength(request.new_pin()));
  HSM_ASSIGN_OR_RETURN(storage::PinVerifier verifier,
                       MakePinVerifier(request.new_pin(), options_.pin_kdf_iterations));
  return tokens_->UpdateToken(app.tenant_id(), session.slot_id, [&](storage::Token& stored) {
    *(security_officer ? stored.mutable_so_pin() : stored.mutable_user_pin()) = verifier;
    return absl::OkStatus();
  });
}

}  // namespace hsm::server
