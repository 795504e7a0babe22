// An application: one client C_Initialize. Its sessions and its login state
// per token belong to it alone (PKCS #11 2.40 section 2.6), and vanish when
// it calls C_Finalize or stops being heard from.
#ifndef HSM_SERVER_APPLICATION_H_
#define HSM_SERVER_APPLICATION_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "server/memory_budget.h"
#include "server/session_operations.h"
#include "storage/object_store.h"
#include "absl/time/time.h"

namespace hsm::server {

enum class LoginState { kPublic, kUser, kSecurityOfficer };

// An active C_FindObjects search: its matches, walked in pages. What it keeps
// counts against the application's operation memory (--max_operation_bytes).
struct FindOperation {
  explicit FindOperation(std::shared_ptr<MemoryBudget> budget) : kept(std::move(budget)) {}
  std::vector<uint64_t> handles;
  size_t next = 0;
  MemoryCharge kept;
};

// A session object: it lives in memory only, is seen by every session of its
// application on its token, and dies with the session that created it.
struct SessionObject {
  uint64_t slot_id = 0;
  uint64_t session_id = 0;
  storage::AttributeSet attributes;
  uint64_t bytes = 0;  // SessionObjectBytes(attributes), set by the Application
};

// About what a session object holds of hsmd's memory: its attributes' encoded
// size, and a little for each.
uint64_t SessionObjectBytes(const storage::AttributeSet& attributes);

// Session-object handles start here, above every token-object id.
inline constexpr uint64_t kFirstSessionObjectHandle = storage::kMaxObjectId;

struct Session {
  uint64_t id = 0;
  uint64_t slot_id = 0;
  bool read_write = false;
  // Shared, so that the copy of a session every call takes (SessionCopy) does
  // not copy the matches of a search, up to one per object of the token.
  std::shared_ptr<FindOperation> find;
  // Shared so a copy of the session reaches the same operations; made by
  // Application::OpenSession.
  std::shared_ptr<SessionOperations> operations;
};

class Application {
 public:
  // `tenant_sessions` counts the open sessions of all the tenant's
  // applications (ApplicationRegistry gives each the tenant's counter).
  Application(uint64_t id, uint64_t tenant_id, std::vector<uint64_t> slot_ids, std::string peer,
              std::shared_ptr<std::atomic<uint64_t>> tenant_sessions = std::make_shared<std::atomic<uint64_t>>(0))
      : id_(id),
        tenant_id_(tenant_id),
        slot_ids_(std::move(slot_ids)),
        peer_(std::move(peer)),
        tenant_sessions_(std::move(tenant_sessions)) {
    Touch();
  }
  ~Application() { tenant_sessions_->fetch_sub(sessions_.size(), std::memory_order_relaxed); }
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  uint64_t id() const { return id_; }
  uint64_t tenant_id() const { return tenant_id_; }
  // The tenant's slots when the application started: fixed for its life.
  const std::vector<uint64_t>& slot_ids() const { return slot_ids_; }
  bool HasSlot(uint64_t slot_id) const;
  const std::string& peer() const { return peer_; }

  void Touch() { last_seen_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed); }
  absl::Time last_seen() const { return absl::FromUnixNanos(last_seen_ns_.load(std::memory_order_relaxed)); }

  // Everything below is guarded by mutex().
  std::mutex& mutex() { return mutex_; }

  Session& OpenSession(uint64_t slot_id, bool read_write) { return *TryOpenSession(slot_id, read_write, 0); }
  // Opens a session unless the tenant's applications have `tenant_limit`
  // open together (0: no limit); nullptr then. Counting it and checking the
  // limit are one atomic step, so concurrent opens cannot pass the limit.
  Session* TryOpenSession(uint64_t slot_id, bool read_write, uint64_t tenant_limit);
  // nullptr if `session_id` is not one of this application's open sessions.
  Session* FindSession(uint64_t session_id);
  // Closes a session, destroying its session objects; the last session of a
  // token logs the token out.
  void CloseSession(uint64_t session_id);
  void CloseAllSessions(uint64_t slot_id);
  // How many sessions this application has open, on all its slots.
  size_t session_count() const { return sessions_.size(); }
  // How many all the tenant's applications have open (not under mutex()).
  uint64_t tenant_session_count() const { return tenant_sessions_->load(std::memory_order_relaxed); }
  // Counts of this application's sessions on `slot_id`.
  size_t SessionCount(uint64_t slot_id) const;
  size_t ReadWriteSessionCount(uint64_t slot_id) const;
  size_t ReadOnlySessionCount(uint64_t slot_id) const {
    return SessionCount(slot_id) - ReadWriteSessionCount(slot_id);
  }

  // Session objects live in hsmd's memory, and a client may send values as
  // large as a gRPC message: an application's session objects hold at most
  // `byte_limit` bytes (SessionObjectBytes) together. The new object's handle,
  // or nullopt if it would pass that.
  std::optional<uint64_t> AddSessionObject(SessionObject object, uint64_t byte_limit);
  // nullptr if `handle` is not a session object of this application.
  const SessionObject* FindSessionObject(uint64_t handle) const;
  // Gives session object `handle` new attributes, unless there is no such
  // object or they would pass `byte_limit` (the object is then unchanged).
  enum class SetResult { kDone, kNoSuchObject, kOverLimit };
  SetResult SetSessionObjectAttributes(uint64_t handle, storage::AttributeSet attributes, uint64_t byte_limit);
  void RemoveSessionObject(uint64_t handle);
  uint64_t session_object_bytes() const { return session_object_bytes_; }
  // The handles of the session objects on `slot_id`, in handle order.
  std::vector<uint64_t> SessionObjectsOn(uint64_t slot_id) const;

  // What the operations of all its sessions keep between calls
  // (session_operations.h); not under mutex().
  const std::shared_ptr<MemoryBudget>& operation_memory() const { return operation_memory_; }

  LoginState login(uint64_t slot_id) const;
  void set_login(uint64_t slot_id, LoginState state);

 private:
  const uint64_t id_;
  const uint64_t tenant_id_;
  const std::vector<uint64_t> slot_ids_;
  const std::string peer_;
  std::atomic<int64_t> last_seen_ns_{0};
  const std::shared_ptr<std::atomic<uint64_t>> tenant_sessions_;

  std::mutex mutex_;
  uint64_t next_session_id_ = 1;  // 0 is never a valid handle
  std::map<uint64_t, std::unique_ptr<Session>> sessions_;
  std::map<uint64_t, LoginState> login_;
  uint64_t next_object_handle_ = kFirstSessionObjectHandle;
  std::map<uint64_t, SessionObject> session_objects_;
  uint64_t session_object_bytes_ = 0;  // the sum of their `bytes`
  // How many session objects each session owns (sessions with none are not
  // listed): closing a session without objects skips the walk over all of them.
  std::unordered_map<uint64_t, size_t> objects_of_session_;
  const std::shared_ptr<MemoryBudget> operation_memory_ = std::make_shared<MemoryBudget>();

  // Erases a session object, keeping session_object_bytes_ and
  // objects_of_session_; the next one.
  std::map<uint64_t, SessionObject>::iterator EraseSessionObject(std::map<uint64_t, SessionObject>::iterator it);
};

// The CKS_* state of `session` under `login`.
uint64_t SessionState(const Session& session, LoginState login);

}  // namespace hsm::server

#endif  // HSM_SERVER_APPLICATION_H_
