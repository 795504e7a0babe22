// Tenants and their tokens (slots) in LMDB. Each call is one transaction.
#ifndef HSM_STORAGE_TOKEN_STORE_H_
#define HSM_STORAGE_TOKEN_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/byte_order.h"
#include "storage/lmdb_env.h"
#include "storage/records.pb.h"

namespace hsm::storage {

class TokenStore {
 public:
  // Opens the store's databases in `env`, which must outlive the store.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(LmdbEnv* env);

  // Tenants: created once, found by name.
  absl::StatusOr<Tenant> CreateTenant(const std::string& name);
  absl::StatusOr<std::optional<Tenant>> FindTenant(const std::string& name);
  absl::StatusOr<std::optional<Tenant>> GetTenant(uint64_t tenant_id);
  absl::StatusOr<std::vector<Tenant>> ListTenants();

  // Stores `token` as a new token of its tenant, under the tenant's next slot
  // id, and returns it as stored.
  absl::StatusOr<Token> CreateToken(Token token);
  absl::StatusOr<std::optional<Token>> GetToken(uint64_t tenant_id, uint64_t slot_id);
  // The tenant's tokens in slot id order.
  absl::StatusOr<std::vector<Token>> ListTokens(uint64_t tenant_id);
  // Removes a tenant record (its tokens and objects are the caller's to remove first).
  absl::Status DeleteTenant(uint64_t tenant_id);
  absl::Status DeleteToken(uint64_t tenant_id, uint64_t slot_id);
  // Reads, changes and writes back a tenant in one write transaction.
  absl::Status UpdateTenant(uint64_t tenant_id, const std::function<absl::Status(Tenant&)>& change);
  // Reads, changes and writes back a token in one write transaction.
  // NotFound if there is no such token; `change`'s error aborts the write.
  absl::Status UpdateToken(uint64_t tenant_id, uint64_t slot_id,
                           const std::function<absl::Status(Token&)>& change);

 private:
  TokenStore(LmdbEnv* env, MDB_dbi tenants, MDB_dbi tokens, MDB_dbi meta)
      : env_(env), tenants_(tenants), tokens_(tokens), meta_(meta) {}

  LmdbEnv* env_;
  MDB_dbi tenants_;  // be64(tenant id) -> Tenant
  MDB_dbi tokens_;   // be64(tenant id) be64(slot id) -> Token
  MDB_dbi meta_;     // counters
};

}  // namespace hsm::storage

#endif  // HSM_STORAGE_TOKEN_STORE_H_
