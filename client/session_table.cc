#include "client/session_table.h"

namespace hsm::client {

uint64_t SessionTable::Add(const SessionEntry& entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t handle = next_handle_++;
  entries_[handle] = entry;
  return handle;
}

std::optional<SessionEntry> SessionTable::Find(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(handle);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void SessionTable::Remove(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(handle);
}

void SessionTable::RemoveSlot(uint64_t slot_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.slot_id == slot_id ? entries_.erase(it) : std::next(it);
  }
}

}  // namespace hsm::client

namespace hsm::client {

bool SessionTable::Update(uint64_t handle, const std::function<void(SessionEntry&)>& change) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(handle);
  if (it == entries_.end()) return false;
  change(it->second);
  return true;
}

}  // namespace hsm::client
