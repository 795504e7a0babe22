// Session management and login (PKCS #11 2.40 sections 5.6 and 2.6): login
// state belongs to the application and the token, shared by all its sessions.
#include "third_party/pkcs11/pkcs11.h"

#include "server/hsm.h"
#include "server/pin_verifier.h"
#include "server/rv.h"

namespace hsm::server {

absl::StatusOr<Session> Hsm::SessionCopy(Application& app, uint64_t session_id) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(session_id);
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  return *session;
}

void Hsm::CloseCarriedSessions(Application& app, const google::protobuf::RepeatedField<uint64_t>& sessions) {
  if (sessions.empty()) return;
  std::lock_guard<std::mutex> lock(app.mutex());
  for (uint64_t session_id : sessions) app.CloseSession(session_id);  // gone ones: no-op
}

absl::Status Hsm::OpenSession(Application& app, const v1::OpenSessionRequest& request,
                              v1::OpenSessionReply* reply) {
  // The closes the client deferred come first, whatever becomes of the open:
  // the quota and the login state must see them.
  CloseCarriedSessions(app, request.close_first());
  HSM_ASSIGN_OR_RETURN(storage::Token token, TokenOf(app, request.slot_id()));
  if ((request.flags() & CKF_SERIAL_SESSION) == 0) {
    return RvError(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
  }
  if (!token.initialized()) return RvError(CKR_TOKEN_NOT_RECOGNIZED);
  HSM_ASSIGN_OR_RETURN(const uint64_t tenant_limit, TenantSessionLimit(app));
  const bool read_write = (request.flags() & CKF_RW_SESSION) != 0;
  std::lock_guard<std::mutex> lock(app.mutex());
  if (!read_write && app.login(request.slot_id()) == LoginState::kSecurityOfficer) {
    return RvError(CKR_SESSION_READ_WRITE_SO_EXISTS);
  }
  const uint64_t limit = options_.max_sessions_per_application;
  if (limit != 0 && app.session_count() >= limit) {
    return RvError(CKR_SESSION_COUNT, "the application's session limit");
  }
  Session* session = app.TryOpenSession(request.slot_id(), read_write, tenant_limit);
  if (session == nullptr) return RvError(CKR_SESSION_COUNT, "session quota");
  reply->set_session(session->id);
  return absl::OkStatus();
}

absl::Status Hsm::CloseSession(Application& app, const v1::SessionRequest& request,
                               v1::StatusReply*) {
  std::lock_guard<std::mutex> lock(app.mutex());
  if (app.FindSession(request.session()) == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  app.CloseSession(request.session());
  return absl::OkStatus();
}

absl::Status Hsm::CloseAllSessions(Application& app, const v1::SlotRequest& request,
                                   v1::StatusReply*) {
  if (!app.HasSlot(request.slot_id())) return RvError(CKR_SLOT_ID_INVALID);
  std::lock_guard<std::mutex> lock(app.mutex());
  app.CloseAllSessions(request.slot_id());
  return absl::OkStatus();
}

absl::Status Hsm::GetSessionInfo(Application& app, const v1::SessionRequest& request,
                                 v1::GetSessionInfoReply* reply) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  reply->set_slot_id(session->slot_id);
  reply->set_state(SessionState(*session, app.login(session->slot_id)));
  reply->set_flags(CKF_SERIAL_SESSION | (session->read_write ? CKF_RW_SESSION : 0));
  reply->set_device_error(0);
  return absl::OkStatus();
}

absl::Status Hsm::Login(Application& app, const v1::LoginRequest& request, v1::StatusReply*) {
  HSM_ASSIGN_OR_RETURN(Session session, SessionCopy(app, request.session()));
  const uint64_t slot_id = session.slot_id;
  LoginState wanted;
  switch (request.user_type()) {
    case CKU_SO:
      wanted = LoginState::kSecurityOfficer;
      break;
    case CKU_USER:
      wanted = LoginState::kUser;
      break;
    case CKU_CONTEXT_SPECIFIC:
      return ContextLogin(app, session, request.pin());
    default:
      return RvError(CKR_USER_TYPE_INVALID);
  }
  auto check_state = [&]() -> absl::Status {
    LoginState current = app.login(slot_id);
    if (current == wanted) return RvError(CKR_USER_ALREADY_LOGGED_IN);
    if (current != LoginState::kPublic) return RvError(CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    if (wanted == LoginState::kSecurityOfficer && app.ReadOnlySessionCount(slot_id) > 0) {
      return RvError(CKR_SESSION_READ_ONLY_EXISTS);
    }
    return absl::OkStatus();
  };
  {
    std::lock_guard<std::mutex> lock(app.mutex());
    HSM_RETURN_IF_ERROR(check_state());
  }
  HSM_RETURN_IF_ERROR(TokenOf(app, slot_id).status());
  // The slow PIN check runs without the application's lock.
  HSM_RETURN_IF_ERROR(
      VerifyPin(app.tenant_id(), slot_id, wanted == LoginState::kSecurityOfficer, request.pin()));
  std::lock_guard<std::mutex> lock(app.mutex());
  HSM_RETURN_IF_ERROR(check_state());  // another thread may have logged in meanwhile
  if (app.FindSession(request.session()) == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  app.set_login(slot_id, wanted);
  return absl::OkStatus();
}

absl::Status Hsm::ContextLogin(Application& app, const Session& session, const std::string& pin) {
  {
    std::lock_guard<std::mutex> lock(app.mutex());
    if (app.login(session.slot_id) != LoginState::kUser) return RvError(CKR_USER_NOT_LOGGED_IN);
  }
  // Only an operation on a CKA_ALWAYS_AUTHENTICATE key asks for this login.
  auto ops = session.operations;
  std::lock_guard<std::mutex> lock(ops->mutex);
  bool* waiting = nullptr;
  for (bool* flag : {&ops->sign.needs_context_login, &ops->decrypt.needs_context_login,
                     &ops->sign_recover.needs_context_login}) {
    if (*flag) waiting = flag;
  }
  if (waiting == nullptr) return RvError(CKR_OPERATION_NOT_INITIALIZED);
  HSM_RETURN_IF_ERROR(VerifyPin(app.tenant_id(), session.slot_id, /*security_officer=*/false, pin));
  *waiting = false;
  return absl::OkStatus();
}

absl::Status Hsm::Logout(Application& app, const v1::SessionRequest& request, v1::StatusReply*) {
  std::lock_guard<std::mutex> lock(app.mutex());
  Session* session = app.FindSession(request.session());
  if (session == nullptr) return RvError(CKR_SESSION_HANDLE_INVALID);
  if (app.login(session->slot_id) == LoginState::kPublic) return RvError(CKR_USER_NOT_LOGGED_IN);
  app.set_login(session->slot_id, LoginState::kPublic);
  return absl::OkStatus();
}

}  // namespace hsm::server
