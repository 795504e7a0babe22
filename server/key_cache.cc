#include "server/key_cache.h"

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

namespace hsm::server {
namespace {

// RSA, and ECDSA on curves other than P-256, which OpenSSL signs in tens of
// µs. Ed25519 and secret keys (no pkey) are quick. Worked out once per key:
// the curve's name comes through the provider's parameters and OBJ_sn2nid,
// under OpenSSL's locks.
bool IsSlowPrivateKey(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return false;
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return true;
    case EVP_PKEY_EC: {
      absl::StatusOr<const crypto::CurveInfo*> curve = crypto::CurveOfKey(pkey);
      return !curve.ok() || (*curve)->nid != NID_X9_62_prime256v1;
    }
    default:
      return false;
  }
}

}  // namespace

std::shared_ptr<UsableKey> MakeUsableKey(storage::AttributeSet attributes, crypto::EvpPkeyPtr pkey) {
  auto key = std::make_shared<UsableKey>();
  key->attributes = std::move(attributes);
  key->slow_private_key = IsSlowPrivateKey(pkey.get());
  key->pkey = std::move(pkey);
  return key;
}

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
