#include "client/operations.h"

#include <mutex>
#include <utility>
#include <vector>

namespace hsm::client {
namespace {

using State = OperationTrack::State;

// Sends one deferred Init of session `handle` (as `entry` was) and records
// its outcome: a failure waits for the operation's next data call.
void SendOne(Library& library, uint64_t handle, const SessionEntry& entry, OpKind kind,
             v1::OperationInitRequest& init) {
  init.set_session(entry.server_session);
  v1::StatusReply reply;
  const CK_RV rv = library.connection.Call(InitRpcOf(kind), init, &reply, CallKind::kSession);
  if (rv == CKR_SESSION_HANDLE_INVALID) {
    library.sessions.Remove(handle);
    return;
  }
  if (NamesBadKey(rv)) library.inits.ForgetKey(entry.slot_id, init.key());
  if (rv == CKR_OK) return;  // the operation is active, as the application believes
  library.sessions.Update(handle, [&](SessionEntry& current) {
    OperationTrack& track = current.operation(kind);
    if (OutcomeUnknown(rv)) {
      track.state = State::kUnknown;
    } else if (rv == CKR_OPERATION_ACTIVE) {
      track.state = State::kActive;  // not ours, but one is
    } else {
      track.state = State::kIdle;
      track.failed_init = rv;
    }
  });
}

}  // namespace

Rpc<v1::OperationInitRequest, v1::StatusReply> InitRpcOf(OpKind kind) {
  using Stub = v1::Pkcs11::Stub;
  switch (kind) {
    case OpKind::kEncrypt:
      return &Stub::PrepareAsyncEncryptInit;
    case OpKind::kDecrypt:
      return &Stub::PrepareAsyncDecryptInit;
    case OpKind::kDigest:
      return &Stub::PrepareAsyncDigestInit;
    case OpKind::kSign:
      return &Stub::PrepareAsyncSignInit;
    case OpKind::kVerify:
      return &Stub::PrepareAsyncVerifyInit;
    case OpKind::kSignRecover:
      return &Stub::PrepareAsyncSignRecoverInit;
    case OpKind::kVerifyRecover:
      break;
  }
  return &Stub::PrepareAsyncVerifyRecoverInit;
}

OperationTrack::State StateAfterCall(CK_RV rv, bool ends, bool length_query) {
  if (OutcomeUnknown(rv)) return State::kUnknown;
  if (rv == CKR_BUFFER_TOO_SMALL) return State::kActive;
  if (rv == CKR_OK) return ends && !length_query ? State::kIdle : State::kActive;
  return State::kIdle;
}

void SendDeferredInits(Library& library, uint64_t handle, std::optional<OpKind> keep, const InitFilter& select,
                       bool order_held) {
  std::optional<SessionEntry> entry = library.sessions.Find(handle);
  // A session of an earlier registration is gone, and its id may name
  // another session of the current one.
  if (!entry.has_value() || entry->epoch != library.connection.epoch()) return;
  std::unique_lock<std::mutex> order(*entry->init_order, std::defer_lock);
  if (!order_held) order.lock();
  std::vector<std::pair<OpKind, v1::OperationInitRequest>> inits;
  library.sessions.Update(handle, [&](SessionEntry& current) {
    for (size_t i = 0; i < kOpKinds; ++i) {
      const OpKind kind = static_cast<OpKind>(i);
      std::optional<v1::OperationInitRequest>& init = current.operation(kind).deferred_init;
      if (kind == keep || !init.has_value() || (select && !select(*init))) continue;
      inits.emplace_back(kind, std::move(*init));
      init.reset();
    }
  });
  for (auto& [kind, init] : inits) SendOne(library, handle, *entry, kind, init);
}

void SendDeferredInitsOn(Library& library, uint64_t slot_id, const InitFilter& select) {
  for (uint64_t handle : library.sessions.HandlesOn(slot_id)) {
    SendDeferredInits(library, handle, std::nullopt, select, /*order_held=*/false);
  }
}

}  // namespace hsm::client
