// Parsed keys, cached per token object, so that a signature does not unseal
// and re-parse its key every call (an RSA key's consistency checks cost more
// than the signature). Entries are dropped when their object changes or is
// destroyed; a load that raced with such a change is not cached.
#ifndef HSM_SERVER_KEY_CACHE_H_
#define HSM_SERVER_KEY_CACHE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "server/crypto/context_pool.h"
#include "server/crypto/key_material.h"
#include "storage/object_store.h"

namespace hsm::server {

// A key ready for use: its attributes (key material included, in memory
// only) and, for asymmetric keys, the OpenSSL key and the contexts its
// signatures and verifications reuse.
struct UsableKey {
  storage::AttributeSet attributes;
  crypto::EvpPkeyPtr pkey;
  // Whether a private-key operation takes long enough (hundreds of µs or
  // more) that other calls should not wait behind it (server/blocking.h).
  bool slow_private_key = false;
  std::shared_ptr<crypto::ContextPool> contexts = std::make_shared<crypto::ContextPool>();
};

// A UsableKey of `attributes` and `pkey` (null for secret keys), with what is
// worked out once per key.
std::shared_ptr<UsableKey> MakeUsableKey(storage::AttributeSet attributes, crypto::EvpPkeyPtr pkey);

class KeyCache {
 public:
  explicit KeyCache(size_t capacity = 100000) : capacity_(capacity) {}

  // The current version stamp; pass it to Put with what was loaded after it.
  uint64_t version() const;
  std::shared_ptr<const UsableKey> Get(storage::TokenRef token, uint64_t id) const;
  void Put(storage::TokenRef token, uint64_t id, std::shared_ptr<const UsableKey> key, uint64_t loaded_at);
  void Forget(storage::TokenRef token, uint64_t id);
  void ForgetToken(storage::TokenRef token);

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint64_t>;
  const size_t capacity_;
  mutable std::mutex mutex_;
  uint64_t version_ = 0;
  std::map<Key, std::shared_ptr<const UsableKey>> keys_;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_KEY_CACHE_H_
