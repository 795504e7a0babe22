// What the PKCS #11 functions share: a call on a session (the library held,
// the handle checked and mapped to hsmd's session, the session's deferred
// Inits sent first), the output-buffer conventions of PKCS #11 section 5.2,
// and blank-padded text fields.
#ifndef HSM_CLIENT_CALL_H_
#define HSM_CLIENT_CALL_H_

#include <string>
#include <type_traits>

#include "client/connection.h"
#include "client/library.h"
#include "client/operations.h"
#include "client/session_table.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

// The calls that create objects on a session (which may then own session
// objects: see session_pool.h).
template <typename Request>
inline constexpr bool kCreatesObjects =
    std::is_same_v<Request, hsm::v1::CreateObjectRequest> || std::is_same_v<Request, hsm::v1::CopyObjectRequest> ||
    std::is_same_v<Request, hsm::v1::GenerateKeyRequest> || std::is_same_v<Request, hsm::v1::GenerateKeyPairRequest> ||
    std::is_same_v<Request, hsm::v1::UnwrapKeyRequest> || std::is_same_v<Request, hsm::v1::DeriveKeyRequest>;

// Closes the spare hsmd sessions of `slot_id` (session_pool.h): they go with
// the application's next call.
void ReleaseSpareSessions(Library& library, uint64_t slot_id);
// The same for every slot; how many there were.
size_t ReleaseAllSpareSessions(Library& library);

// Holds the library for one call on session `handle`. status() is
// CKR_CRYPTOKI_NOT_INITIALIZED, CKR_SESSION_HANDLE_INVALID (unknown handle,
// or a session of an earlier registration), or CKR_OK.
class SessionCall {
 public:
  explicit SessionCall(CK_SESSION_HANDLE handle);

  CK_RV status() const { return status_; }
  Library& library() { return *library_; }
  CK_SESSION_HANDLE handle() const { return handle_; }
  // The entry as it was when the call started.
  const SessionEntry& session() const { return entry_; }

  // Sends `request` on this session, after the session's deferred Inits
  // (operations.h). A session hsmd no longer knows is dropped from the table.
  template <typename Request, typename Reply>
  CK_RV Run(Rpc<Request, Reply> rpc, Request& request, Reply* reply,
            Deadline deadline = Deadline::kNormal) {
    SendDeferredInits();
    return Send(rpc, request, reply, deadline);
  }

  // Sends this session's deferred Inits on their own (but not `keep`'s),
  // or waits while another thread sends them.
  void SendDeferredInits(std::optional<OpKind> keep = std::nullopt, bool order_held = false) {
    client::SendDeferredInits(*library_, handle_, keep, nullptr, order_held);
  }

  // Run without sending the deferred Inits first: for the data calls, which
  // carry their own (fn_crypto.cc).
  template <typename Request, typename Reply>
  CK_RV Send(Rpc<Request, Reply> rpc, Request& request, Reply* reply, Deadline deadline = Deadline::kNormal) {
    if constexpr (kCreatesObjects<Request>) {
      library_->sessions.Update(handle_, [](SessionEntry& entry) { entry.may_own_objects = true; });
    }
    request.set_session(entry_.server_session);
    CK_RV rv = library_->connection.Call(rpc, request, reply, CallKind::kSession, deadline);
    if (rv == CKR_SESSION_HANDLE_INVALID) library_->sessions.Remove(handle_);
    return rv;
  }

 private:
  LibraryRef library_;
  CK_SESSION_HANDLE handle_;
  SessionEntry entry_;
  CK_RV status_ = CKR_OK;
};

// Describes the caller's output buffer: a NULL buffer asks for the length.
// CKR_ARGUMENTS_BAD if `out_len` is NULL.
CK_RV RequestOutput(CK_BYTE_PTR out, CK_ULONG_PTR out_len, hsm::v1::OutputSpec* spec);

// Completes a call that returns bytes: on CKR_OK copies them (or sets the
// length for a length query); on CKR_BUFFER_TOO_SMALL sets the needed length.
CK_RV DeliverOutput(CK_RV rv, const hsm::v1::DataReply& reply, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

// Copies `text` into a fixed-size PKCS #11 field, blank-padded, not NUL-terminated.
void CopyPadded(CK_UTF8CHAR* field, size_t size, const std::string& text);

}  // namespace hsm::client

#endif  // HSM_CLIENT_CALL_H_
