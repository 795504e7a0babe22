// Set-up EVP_PKEY_CTXs of one key, kept for the next operation. In OpenSSL
// 3.0 making a context and initializing it for signing fetches the
// algorithm's implementation through the provider store, under its lock: 1.5
// µs of a 15 µs P-256 signature on one thread, and 13 % of the throughput
// with two threads signing. EVP_PKEY_sign and EVP_PKEY_verify may be called
// again on a context whose parameters stay the same (EVP_PKEY_sign(3)), so a
// key keeps a few idle contexts per operation and parameters. The pool lives
// as long as the cached key (server/key_cache.h): a destroyed key's contexts
// go with it.
#ifndef HSM_SERVER_CRYPTO_CONTEXT_POOL_H_
#define HSM_SERVER_CRYPTO_CONTEXT_POOL_H_

#include <openssl/evp.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "server/crypto/openssl_util.h"

namespace hsm::server::crypto {

class ContextPool {
 public:
  using Step = absl::FunctionRef<absl::Status(EVP_PKEY_CTX*)>;

  // Runs `body` on a context of `key` for `scheme` (a name for the operation
  // and all of its parameters): an idle one, or a new one that `setup`
  // initializes. The context goes back to the pool only if `body` succeeded:
  // after a failure OpenSSL's context state is not known.
  absl::Status Use(EVP_PKEY* key, const std::string& scheme, Step setup, Step body);

  // Without a pool (a key that is not cached): a fresh context every time.
  static absl::Status UseOnce(EVP_PKEY* key, Step setup, Step body);

 private:
  // As many as hsmd's RPC threads by default (--rpc_threads), each of which
  // may hold one; a cached key's contexts cost about a kilobyte each.
  static constexpr size_t kMaxIdlePerScheme = 4;

  std::mutex mutex_;
  std::map<std::string, std::vector<EvpPkeyCtxPtr>> idle_;
};

// ContextPool::Use when `pool` is set, ContextPool::UseOnce otherwise.
absl::Status WithContext(ContextPool* pool, EVP_PKEY* key, const std::string& scheme,
                         ContextPool::Step setup, ContextPool::Step body);

}  // namespace hsm::server::crypto

#endif  // HSM_SERVER_CRYPTO_CONTEXT_POOL_H_
