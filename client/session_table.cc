#include "client/session_table.h"

namespace hsm::client {

bool SessionEntry::HasDeferredInit() const {
  for (const OperationTrack& track : operations) {
    if (track.deferred_init.has_value()) return true;
  }
  return false;
}

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

std::optional<SessionEntry> SessionTable::Take(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(handle);
  if (it == entries_.end()) return std::nullopt;
  SessionEntry entry = std::move(it->second);
  entries_.erase(it);
  return entry;
}

void SessionTable::RemoveSlot(uint64_t slot_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.slot_id == slot_id ? entries_.erase(it) : std::next(it);
  }
}

bool SessionTable::Update(uint64_t handle, const std::function<void(SessionEntry&)>& change) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(handle);
  if (it == entries_.end()) return false;
  change(it->second);
  return true;
}

std::vector<uint64_t> SessionTable::HandlesOn(uint64_t slot_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint64_t> handles;
  for (const auto& [handle, entry] : entries_) {
    if (entry.slot_id == slot_id) handles.push_back(handle);
  }
  return handles;
}

bool SessionTable::AnyOn(uint64_t slot_id, uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [handle, entry] : entries_) {
    if (entry.slot_id == slot_id && entry.epoch == epoch) return true;
  }
  return false;
}

}  // namespace hsm::client
