// What successful C_*Init calls taught the library, so that later ones can
// be deferred into the operation's first data call and NSS's read of
// CKA_ALWAYS_AUTHENTICATE after each C_SignInit answered locally.
//
// An Init is deferred only if one of the same kind, on the same key and with
// the same encoded mechanism, succeeded before in this application, on a
// token key without CKA_ALWAYS_AUTHENTICATE (or a digest, which has no key),
// and nothing since could have changed its outcome as far as this
// application can tell: its login state (C_Login, C_Logout, PIN changes,
// closing the last session of a slot), the key itself (C_DestroyObject,
// C_SetAttributeValue, an error naming the key), or hsmd (a new
// registration). Those events empty the cache or drop the key's entries.
#ifndef HSM_CLIENT_INIT_CACHE_H_
#define HSM_CLIENT_INIT_CACHE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "client/session_table.h"
#include "proto/hsm/v1/pkcs11.pb.h"

namespace hsm::client {

class InitCache {
 public:
  // The cache's state before an Init RPC: Learn() ignores the Init's lesson
  // if the cache was emptied, or a change was under way, meanwhile.
  uint64_t generation() const;

  // An Init of `kind` on `key` with `mechanism` (encoded) succeeded in
  // registration `epoch`, and hsmd told `facts` about the key.
  void Learn(uint64_t generation, uint64_t epoch, uint64_t slot_id, uint64_t key, OpKind kind,
             const std::string& mechanism, const hsm::v1::KeyFacts& facts);
  // Whether such an Init may be deferred now.
  bool MayDefer(uint64_t epoch, uint64_t slot_id, uint64_t key, OpKind kind, const std::string& mechanism) const;
  // The CKA_ALWAYS_AUTHENTICATE of token key `key`, if an Init told it.
  std::optional<bool> AlwaysAuthenticate(uint64_t epoch, uint64_t slot_id, uint64_t key) const;

  void ForgetKey(uint64_t slot_id, uint64_t key);
  void Clear();

  // Held around a call that changes the login state or a key: nothing is
  // deferred or learned while it runs, and the cache (or the key's entries)
  // is emptied both before and after it.
  class Change {
   public:
    // The whole cache.
    explicit Change(InitCache& cache) : Change(cache, std::nullopt) {}
    // One key's entries.
    Change(InitCache& cache, uint64_t slot_id, uint64_t key) : Change(cache, std::make_pair(slot_id, key)) {}
    ~Change();
    Change(const Change&) = delete;
    Change& operator=(const Change&) = delete;

   private:
    Change(InitCache& cache, std::optional<std::pair<uint64_t, uint64_t>> key);
    InitCache& cache_;
    const std::optional<std::pair<uint64_t, uint64_t>> key_;
  };

 private:
  using KeyRef = std::pair<uint64_t, uint64_t>;  // slot, handle
  using InitRef = std::tuple<uint64_t, uint64_t, OpKind, std::string>;  // slot, handle, kind, mechanism

  // Both under mutex_.
  void ForgetLocked(const std::optional<KeyRef>& key);
  bool UsableLocked(uint64_t epoch) const { return changes_ == 0 && epoch == epoch_; }

  mutable std::mutex mutex_;
  uint64_t generation_ = 0;
  int changes_ = 0;     // Change objects alive
  uint64_t epoch_ = 0;  // the registration the entries belong to
  std::set<InitRef> deferrable_;
  std::map<KeyRef, bool> always_authenticate_;
};

}  // namespace hsm::client

#endif  // HSM_CLIENT_INIT_CACHE_H_
