// The library's view of each session's cryptographic operations, and the
// sending of the C_*Init calls it deferred (fn_crypto.cc decides when to
// defer one; docs/architecture.md says why that keeps PKCS #11 semantics).
//
// A deferred Init waits in its session's entry and normally travels inside
// the operation's next data call. Before any other call that could tell the
// difference it is sent on its own, as the plain Init RPC: any other call on
// its session (SessionCall::Run), and calls on other sessions that could
// change its outcome (C_Logout, C_DestroyObject or C_SetAttributeValue of its
// key). hsmd thus sees the application's calls in their order.
#ifndef HSM_CLIENT_OPERATIONS_H_
#define HSM_CLIENT_OPERATIONS_H_

#include <functional>
#include <optional>

#include "client/connection.h"
#include "client/library.h"
#include "client/session_table.h"
#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

// The Init RPC of an operation kind.
Rpc<v1::OperationInitRequest, v1::StatusReply> InitRpcOf(OpKind kind);

// Whether hsmd may or may not have run a call that gave `rv` (a transport
// failure, reported as CKR_DEVICE_ERROR).
inline bool OutcomeUnknown(CK_RV rv) { return rv == CKR_DEVICE_ERROR; }

// Whether `rv` says that the key or object a call named is not usable (as
// named, or any longer): what the library learned about it must go.
inline bool NamesBadKey(CK_RV rv) {
  return rv == CKR_OBJECT_HANDLE_INVALID || (rv >= CKR_KEY_HANDLE_INVALID && rv <= CKR_KEY_UNEXTRACTABLE);
}

// The state a data call leaves its operation in, per hsmd's operation rules
// (server/hsm_crypto.cc): a length query or CKR_BUFFER_TOO_SMALL keeps it, a
// success ends it if the call `ends` it (single-part, Final, Verify), any
// other error ends it.
OperationTrack::State StateAfterCall(CK_RV rv, bool ends, bool length_query);

// Picks deferred Inits to send; nullptr picks all.
using InitFilter = std::function<bool(const v1::OperationInitRequest&)>;

// Sends, on their own, the deferred Inits of session `handle` that `select`
// picks, but not that of `keep`. Takes the session's order lock (and so
// waits for another thread sending them) unless the caller holds it.
void SendDeferredInits(Library& library, uint64_t handle, std::optional<OpKind> keep, const InitFilter& select,
                       bool order_held);

// The same on every session of the application on `slot_id`.
void SendDeferredInitsOn(Library& library, uint64_t slot_id, const InitFilter& select);

}  // namespace hsm::client

#endif  // HSM_CLIENT_OPERATIONS_H_
