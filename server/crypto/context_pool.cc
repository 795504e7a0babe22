#include "server/crypto/context_pool.h"

#include <utility>

#include "server/rv.h"

namespace hsm::server::crypto {
namespace {

absl::StatusOr<EvpPkeyCtxPtr> NewContext(EVP_PKEY* key, ContextPool::Step setup) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (ctx == nullptr) return OpenSslError(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_pkey");
  HSM_RETURN_IF_ERROR(setup(ctx.get()));
  return ctx;
}

}  // namespace

absl::Status ContextPool::Use(EVP_PKEY* key, const std::string& scheme, Step setup, Step body) {
  EvpPkeyCtxPtr ctx;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = idle_.find(scheme);
    if (it != idle_.end() && !it->second.empty()) {
      ctx = std::move(it->second.back());
      it->second.pop_back();
    }
  }
  if (ctx == nullptr) {
    HSM_ASSIGN_OR_RETURN(ctx, NewContext(key, setup));
  }
  HSM_RETURN_IF_ERROR(body(ctx.get()));
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<EvpPkeyCtxPtr>& idle = idle_[scheme];
  if (idle.size() < kMaxIdlePerScheme) idle.push_back(std::move(ctx));
  return absl::OkStatus();
}

absl::Status ContextPool::UseOnce(EVP_PKEY* key, Step setup, Step body) {
  HSM_ASSIGN_OR_RETURN(EvpPkeyCtxPtr ctx, NewContext(key, setup));
  return body(ctx.get());
}

absl::Status WithContext(ContextPool* pool, EVP_PKEY* key, const std::string& scheme,
                         ContextPool::Step setup, ContextPool::Step body) {
  return pool != nullptr ? pool->Use(key, scheme, setup, body) : ContextPool::UseOnce(key, setup, body);
}

}  // namespace hsm::server::crypto
