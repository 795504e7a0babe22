#include "server/key_cache.h"

namespace hsm::server {

uint64_t KeyCache::version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

std::shared_ptr<const UsableKey> KeyCache::Get(storage::TokenRef token, uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = keys_.find({token.tenant_id, token.slot_id, id});
  return it == keys_.end() ? nullptr : it->second;
}

void KeyCache::Put(storage::TokenRef token, uint64_t id, std::shared_ptr<const UsableKey> key, uint64_t loaded_at) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (loaded_at != version_) return;  // something changed while it was loaded
  if (keys_.size() >= capacity_) keys_.erase(keys_.begin());
  keys_[{token.tenant_id, token.slot_id, id}] = std::move(key);
}

void KeyCache::Forget(storage::TokenRef token, uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++version_;
  keys_.erase({token.tenant_id, token.slot_id, id});
}

void KeyCache::ForgetToken(storage::TokenRef token) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++version_;
  auto it = keys_.lower_bound({token.tenant_id, token.slot_id, 0});
  while (it != keys_.end() && std::get<0>(it->first) == token.tenant_id && std::get<1>(it->first) == token.slot_id) {
    it = keys_.erase(it);
  }
}

}  // namespace hsm::server
