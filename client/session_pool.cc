#include "client/session_pool.h"

#include <algorithm>

#include "third_party/pkcs11/pkcs11.h"

namespace hsm::client {

bool SessionPool::Put(const Spare& spare) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto same_kind = [&](const Spare& kept) {
    return kept.slot_id == spare.slot_id && kept.flags == spare.flags && kept.epoch == spare.epoch;
  };
  if (static_cast<size_t>(std::count_if(spares_.begin(), spares_.end(), same_kind)) >= kMaxPerKind) return false;
  spares_.push_back(spare);
  return true;
}

std::optional<SessionPool::Spare> SessionPool::Take(uint64_t slot_id, uint64_t flags, uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Spares of an earlier registration are gone with it (hsmd forgot them).
  spares_.erase(std::remove_if(spares_.begin(), spares_.end(), [&](const Spare& s) { return s.epoch != epoch; }),
                spares_.end());
  for (auto it = spares_.rbegin(); it != spares_.rend(); ++it) {
    if (it->slot_id == slot_id && it->flags == flags) {
      Spare spare = *it;
      spares_.erase(std::next(it).base());
      return spare;
    }
  }
  return std::nullopt;
}

std::vector<SessionPool::Spare> SessionPool::TakeSlot(uint64_t slot_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Spare> taken;
  auto kept_end = std::stable_partition(spares_.begin(), spares_.end(),
                                        [&](const Spare& s) { return s.slot_id != slot_id; });
  taken.assign(kept_end, spares_.end());
  spares_.erase(kept_end, spares_.end());
  return taken;
}

std::vector<SessionPool::Spare> SessionPool::TakeAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Spare> taken;
  taken.swap(spares_);
  return taken;
}

SessionPool::Counts SessionPool::CountOn(uint64_t slot_id, uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  Counts counts;
  for (const Spare& spare : spares_) {
    if (spare.slot_id != slot_id || spare.epoch != epoch) continue;
    ++counts.all;
    if ((spare.flags & CKF_RW_SESSION) != 0) ++counts.read_write;
  }
  return counts;
}

}  // namespace hsm::client
