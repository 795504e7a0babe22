// Session management (PKCS #11 2.40 section 5.6).
//
// C_CloseSession is answered at once: the handle dies here, and hsmd closes
// the session before it serves the application's next call (Connection), or
// the library keeps hsmd's session for the next C_OpenSession of the same
// kind (session_pool.h).
// Calls that change the login state empty the library's Init cache
// (init_cache.h), and C_Logout first sends the deferred Inits it could affect.
#include "client/call.h"
#include "client/functions.h"

namespace hsm::client {

CK_RV OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                  CK_SESSION_HANDLE_PTR phSession) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (phSession == nullptr) return CKR_ARGUMENTS_BAD;
  // Notify callbacks are never made: hsmd does not surrender sessions.
  // A spare must be of the current registration; a new session records the
  // registration its RPC went to (a new one, if hsmd turned out to have
  // restarted), never a later one.
  const uint64_t epoch = library->connection.epoch();
  SessionEntry entry;
  entry.epoch = epoch;
  entry.slot_id = slotID;
  entry.flags = flags;
  if (!library->connection.spare_sessions_allowed()) {
    // A session quota appeared: spares would take others' sessions.
    ReleaseAllSpareSessions(*library);
  } else if (std::optional<SessionPool::Spare> spare = library->spares.Take(slotID, flags, epoch)) {
    entry.server_session = spare->server_session;
    *phSession = library->sessions.Add(entry);
    return CKR_OK;
  }
  v1::OpenSessionRequest request;
  request.set_slot_id(slotID);
  request.set_flags(flags);
  v1::OpenSessionReply reply;
  CK_RV rv = library->connection.OpenSessionWithCloses(request, &reply, &entry.epoch);
  if (rv == CKR_SESSION_COUNT) {
    // The tenant's session quota: spares count in it, so give them back.
    if (ReleaseAllSpareSessions(*library) > 0) {
      reply.Clear();
      rv = library->connection.OpenSessionWithCloses(request, &reply, &entry.epoch);
    }
  }
  if (rv != CKR_OK) return rv;
  entry.server_session = reply.session();
  *phSession = library->sessions.Add(entry);
  return CKR_OK;
}

namespace {

// Whether hsmd's side of the session is as a new session's would be: no
// operation, no search, no object of its own (session_pool.h).
bool IsClean(const SessionEntry& entry) {
  if (entry.may_own_objects) return false;
  if (entry.find.has_value() && entry.find->server_holds_search) return false;
  for (const OperationTrack& operation : entry.operations) {
    // A deferred Init never reached hsmd: no operation there.
    if (operation.state == OperationTrack::State::kUnknown) return false;
    if (operation.state == OperationTrack::State::kActive && !operation.deferred_init.has_value()) return false;
  }
  return true;
}

}  // namespace

CK_RV CloseSession(CK_SESSION_HANDLE hSession) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  Library& library = call.library();
  // Its deferred Inits go with it: hsmd would end their operations anyway.
  std::optional<SessionEntry> entry = library.sessions.Take(hSession);
  if (!entry.has_value()) return CKR_SESSION_HANDLE_INVALID;  // another thread closed it meanwhile
  // hsmd logs the application out of a token when its last session there
  // closes: that close takes the spares along, and is never kept as one.
  const bool last = !library.sessions.AnyOn(entry->slot_id, entry->epoch);
  if (!last && IsClean(*entry) && entry->epoch == library.connection.epoch() &&
      library.connection.spare_sessions_allowed() &&
      library.spares.Put({entry->server_session, entry->epoch, entry->slot_id, entry->flags})) {
    return CKR_OK;
  }
  library.connection.QueueClose(entry->server_session, entry->epoch);
  if (last) {
    ReleaseSpareSessions(library, entry->slot_id);
    library.inits.Clear();
  }
  return CKR_OK;
}

CK_RV CloseAllSessions(CK_SLOT_ID slotID) {
  LibraryRef library;
  if (!library) return CKR_CRYPTOKI_NOT_INITIALIZED;
  InitCache::Change logs_out(library->inits);
  v1::SlotRequest request;
  request.set_slot_id(slotID);
  v1::StatusReply reply;
  CK_RV rv = library->connection.Call(&v1::Pkcs11::Stub::PrepareAsyncCloseAllSessions, request, &reply);
  if (rv == CKR_OK) {
    library->sessions.RemoveSlot(slotID);
    library->spares.TakeSlot(slotID);  // hsmd closed them too
  }
  return rv;
}

CK_RV GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
  v1::SessionRequest request;
  v1::GetSessionInfoReply reply;
  CK_RV rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncGetSessionInfo, request, &reply);
  if (rv != CKR_OK) return rv;
  pInfo->slotID = reply.slot_id();
  pInfo->state = reply.state();
  pInfo->flags = reply.flags();
  pInfo->ulDeviceError = reply.device_error();
  return CKR_OK;
}

CK_RV GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                        CK_ULONG_PTR pulOperationStateLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  v1::OutputRequest request;
  CK_RV rv = RequestOutput(pOperationState, pulOperationStateLen, request.mutable_output());
  if (rv != CKR_OK) return rv;
  v1::DataReply reply;
  rv = call.Run(&v1::Pkcs11::Stub::PrepareAsyncGetOperationState, request, &reply);
  return DeliverOutput(rv, reply, pOperationState, pulOperationStateLen);
}

CK_RV SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                        CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                        CK_OBJECT_HANDLE hAuthenticationKey) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  if (pOperationState == nullptr) return CKR_ARGUMENTS_BAD;
  v1::SetOperationStateRequest request;
  request.set_state(reinterpret_cast<const char*>(pOperationState), ulOperationStateLen);
  request.set_encryption_key(hEncryptionKey);
  request.set_authentication_key(hAuthenticationKey);
  v1::StatusReply reply;
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncSetOperationState, request, &reply);
}

CK_RV Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  // No protected authentication path: the PIN must be given.
  if (pPin == nullptr) return CKR_ARGUMENTS_BAD;
  v1::LoginRequest request;
  request.set_user_type(userType);
  request.set_pin(reinterpret_cast<const char*>(pPin), ulPinLen);
  v1::StatusReply reply;
  // A context-specific login changes no login state; it follows an Init on
  // a CKA_ALWAYS_AUTHENTICATE key, which is never deferred. (Run sends this
  // session's deferred Inits first all the same.)
  std::optional<InitCache::Change> logs_in;
  if (userType != CKU_CONTEXT_SPECIFIC) {
    logs_in.emplace(call.library().inits);
    // A security officer may not log in while read-only sessions exist,
    // spares included: they go first.
    ReleaseSpareSessions(call.library(), call.session().slot_id);
  }
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncLogin, request, &reply);
}

CK_RV Logout(CK_SESSION_HANDLE hSession) {
  SessionCall call(hSession);
  if (call.status() != CKR_OK) return call.status();
  InitCache::Change logs_out(call.library().inits);
  // Deferred Inits on private keys would fail once the user is logged out,
  // where the Inits themselves succeeded: they go first.
  SendDeferredInitsOn(call.library(), call.session().slot_id, nullptr);
  ReleaseSpareSessions(call.library(), call.session().slot_id);
  v1::SessionRequest request;
  v1::StatusReply reply;
  return call.Run(&v1::Pkcs11::Stub::PrepareAsyncLogout, request, &reply);
}

}  // namespace hsm::client
