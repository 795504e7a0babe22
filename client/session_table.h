// The client's session handles. A handle the application holds maps to the
// session hsmd knows and to the registration (epoch) it was opened under:
// after hsmd restarts, sessions of the old epoch are reported invalid without
// a round trip, and a later resume can re-open them under the same handles.
//
// An entry also says what the library knows of the session's cryptographic
// operations, and holds the C_*Init calls it deferred (see fn_crypto.cc).
#ifndef HSM_CLIENT_SESSION_TABLE_H_
#define HSM_CLIENT_SESSION_TABLE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "proto/hsm/v1/pkcs11.pb.h"

namespace hsm::client {

// A search in progress: the matches hsmd already sent, handed out locally.
struct ClientFind {
  std::vector<uint64_t> handles;
  size_t next = 0;
  // hsmd holds matches not sent yet.
  bool server_has_more = false;
  // hsmd keeps the search's state, which C_FindObjectsFinal must release.
  bool server_holds_search = false;
};

// The kinds of cryptographic operation; a session has at most one of each.
enum class OpKind { kEncrypt, kDecrypt, kDigest, kSign, kVerify, kSignRecover, kVerifyRecover };
inline constexpr size_t kOpKinds = 7;

// What the library knows of hsmd's operation of one kind on a session.
struct OperationTrack {
  // kActive from a successful (or deferred) Init until a call ends it, per
  // the operation rules of server/hsm_crypto.cc; kUnknown after a call whose
  // outcome hsmd may not have seen (a transport failure).
  enum class State { kIdle, kActive, kUnknown };
  State state = State::kIdle;
  // A deferred Init (state kActive): it travels with the operation's next
  // data call, or is sent on its own before any other call that could tell.
  std::optional<hsm::v1::OperationInitRequest> deferred_init;
  // A deferred Init that failed when it was sent on its own: the operation's
  // next data call returns this CK_RV (state kIdle). 0 (CKR_OK) if none.
  uint64_t failed_init = 0;
};

struct SessionEntry {
  uint64_t server_session = 0;
  uint64_t epoch = 0;
  uint64_t slot_id = 0;
  uint64_t flags = 0;  // as opened (CKF_RW_SESSION ...)
  // An object may have been created on it (it may own session objects), so
  // its hsmd session is never kept as a spare (session_pool.h).
  bool may_own_objects = false;
  std::optional<ClientFind> find;
  std::array<OperationTrack, kOpKinds> operations;
  // Held by whoever sends this session's deferred Inits until hsmd has them.
  // Every call on the session passes it first, so that none overtakes an
  // Init the application made before it. Shared by the entry's copies.
  std::shared_ptr<std::mutex> init_order = std::make_shared<std::mutex>();

  OperationTrack& operation(OpKind kind) { return operations[static_cast<size_t>(kind)]; }
  const OperationTrack& operation(OpKind kind) const { return operations[static_cast<size_t>(kind)]; }
  bool HasDeferredInit() const;
};

class SessionTable {
 public:
  // A new handle (never 0, never reused while the library is initialized).
  uint64_t Add(const SessionEntry& entry);
  std::optional<SessionEntry> Find(uint64_t handle);
  void Remove(uint64_t handle);
  // Removes the entry and returns it.
  std::optional<SessionEntry> Take(uint64_t handle);
  void RemoveSlot(uint64_t slot_id);
  // Runs `change` on the entry under the table's lock; false if there is none.
  bool Update(uint64_t handle, const std::function<void(SessionEntry&)>& change);
  // The handles of the sessions on `slot_id` (of any epoch).
  std::vector<uint64_t> HandlesOn(uint64_t slot_id);
  // Whether a session of registration `epoch` is open on `slot_id`.
  bool AnyOn(uint64_t slot_id, uint64_t epoch);

 private:
  std::mutex mutex_;
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, SessionEntry> entries_;
};

}  // namespace hsm::client

#endif  // HSM_CLIENT_SESSION_TABLE_H_
