// The client's session handles. A handle the application holds maps to the
// session hsmd knows and to the registration (epoch) it was opened under:
// after hsmd restarts, sessions of the old epoch are reported invalid without
// a round trip, and a later resume can re-open them under the same handles.
#ifndef HSM_CLIENT_SESSION_TABLE_H_
#define HSM_CLIENT_SESSION_TABLE_H_

#include <cstdint>
#include <mutex>
#include <functional>
#include <optional>
#include <vector>
#include <unordered_map>

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

struct SessionEntry {
  uint64_t server_session = 0;
  uint64_t epoch = 0;
  uint64_t slot_id = 0;
  std::optional<ClientFind> find;
};

class SessionTable {
 public:
  // A new handle (never 0, never reused while the library is initialized).
  uint64_t Add(const SessionEntry& entry);
  std::optional<SessionEntry> Find(uint64_t handle);
  void Remove(uint64_t handle);
  void RemoveSlot(uint64_t slot_id);
  // Runs `change` on the entry under the table's lock; false if there is none.
  bool Update(uint64_t handle, const std::function<void(SessionEntry&)>& change);

 private:
  std::mutex mutex_;
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, SessionEntry> entries_;
};

}  // namespace hsm::client

#endif  // HSM_CLIENT_SESSION_TABLE_H_
