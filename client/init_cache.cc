#include "client/init_cache.h"

namespace hsm::client {
namespace {

// Bounds the memory an application cycling through keys or mechanism
// parameters (a fresh IV per encryption) can make the cache hold.
constexpr size_t kMaxEntries = 4096;

}  // namespace

uint64_t InitCache::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void InitCache::Learn(uint64_t generation, uint64_t epoch, uint64_t slot_id, uint64_t key, OpKind kind,
                      const std::string& mechanism, const hsm::v1::KeyFacts& facts) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (generation != generation_ || changes_ != 0) return;
  if (epoch != epoch_) {  // hsmd forgot the old registration, its logins with it
    ForgetLocked(std::nullopt);
    epoch_ = epoch;
  }
  // Session objects die with their session, and a context-specific login
  // must follow the Init itself: neither is worth the risk.
  const bool needs_context_login = facts.has_always_authenticate() && facts.always_authenticate();
  if (kind != OpKind::kDigest && (!facts.token_object() || needs_context_login)) return;
  if (deferrable_.size() >= kMaxEntries) deferrable_.clear();
  deferrable_.emplace(slot_id, key, kind, mechanism);
  if (kind != OpKind::kDigest && facts.has_always_authenticate()) {
    if (always_authenticate_.size() >= kMaxEntries) always_authenticate_.clear();
    always_authenticate_[{slot_id, key}] = facts.always_authenticate();
  }
}

bool InitCache::MayDefer(uint64_t epoch, uint64_t slot_id, uint64_t key, OpKind kind,
                         const std::string& mechanism) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return UsableLocked(epoch) && deferrable_.count(InitRef(slot_id, key, kind, mechanism)) != 0;
}

std::optional<bool> InitCache::AlwaysAuthenticate(uint64_t epoch, uint64_t slot_id, uint64_t key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!UsableLocked(epoch)) return std::nullopt;
  auto it = always_authenticate_.find({slot_id, key});
  if (it == always_authenticate_.end()) return std::nullopt;
  return it->second;
}

void InitCache::ForgetKey(uint64_t slot_id, uint64_t key) {
  std::lock_guard<std::mutex> lock(mutex_);
  ForgetLocked(KeyRef(slot_id, key));
}

void InitCache::Clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  ForgetLocked(std::nullopt);
}

void InitCache::ForgetLocked(const std::optional<KeyRef>& key) {
  ++generation_;
  if (!key.has_value()) {
    deferrable_.clear();
    always_authenticate_.clear();
    return;
  }
  always_authenticate_.erase(*key);
  for (auto it = deferrable_.lower_bound(InitRef(key->first, key->second, OpKind::kEncrypt, ""));
       it != deferrable_.end() && std::get<0>(*it) == key->first && std::get<1>(*it) == key->second;) {
    it = deferrable_.erase(it);
  }
}

InitCache::Change::Change(InitCache& cache, std::optional<std::pair<uint64_t, uint64_t>> key)
    : cache_(cache), key_(key) {
  std::lock_guard<std::mutex> lock(cache_.mutex_);
  ++cache_.changes_;
  cache_.ForgetLocked(key_);
}

InitCache::Change::~Change() {
  std::lock_guard<std::mutex> lock(cache_.mutex_);
  --cache_.changes_;
  cache_.ForgetLocked(key_);
}

}  // namespace hsm::client
