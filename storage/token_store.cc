#include "storage/token_store.h"

#include "absl/strings/str_cat.h"

namespace hsm::storage {
namespace {

constexpr char kNextTenantId[] = "next_tenant_id";

template <typename Message>
absl::Status Parse(std::string_view bytes, Message& out) {
  if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored record does not parse");
  }
  return absl::OkStatus();
}

std::string TokenKey(uint64_t tenant_id, uint64_t slot_id) {
  return Be64(tenant_id) + Be64(slot_id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(LmdbEnv* env) {
  absl::StatusOr<MDB_dbi> tenants = env->OpenDatabase("tenants");
  if (!tenants.ok()) return tenants.status();
  absl::StatusOr<MDB_dbi> tokens = env->OpenDatabase("tokens");
  if (!tokens.ok()) return tokens.status();
  absl::StatusOr<MDB_dbi> meta = env->OpenDatabase("meta");
  if (!meta.ok()) return meta.status();
  return std::unique_ptr<TokenStore>(new TokenStore(env, *tenants, *tokens, *meta));
}

absl::StatusOr<Tenant> TokenStore::CreateTenant(const std::string& name) {
  Tenant tenant;
  absl::Status status = env_->Write([&](Txn& txn) -> absl::Status {
    bool exists = false;
    absl::Status walk = txn.ForEachWithPrefix(tenants_, "", [&](auto, std::string_view value) {
      Tenant other;
      exists = Parse(value, other).ok() && other.name() == name;
      return !exists;
    });
    if (!walk.ok()) return walk;
    if (exists) return absl::AlreadyExistsError(absl::StrCat("tenant ", name, " exists"));
    absl::StatusOr<std::optional<std::string_view>> next = txn.Get(meta_, kNextTenantId);
    if (!next.ok()) return next.status();
    uint64_t id = next->has_value() ? ReadBe64(**next) : 1;
    tenant.Clear();
    tenant.set_id(id);
    tenant.set_name(name);
    tenant.set_next_slot_id(1);
    absl::Status put = txn.Put(meta_, kNextTenantId, Be64(id + 1));
    if (!put.ok()) return put;
    return txn.Put(tenants_, Be64(id), tenant.SerializeAsString());
  });
  if (!status.ok()) return status;
  return tenant;
}

absl::StatusOr<std::optional<Tenant>> TokenStore::FindTenant(const std::string& name) {
  absl::StatusOr<std::vector<Tenant>> all = ListTenants();
  if (!all.ok()) return all.status();
  for (Tenant& tenant : *all) {
    if (tenant.name() == name) return std::optional<Tenant>(std::move(tenant));
  }
  return std::optional<Tenant>();
}

absl::StatusOr<std::optional<Tenant>> TokenStore::GetTenant(uint64_t tenant_id) {
  std::optional<Tenant> tenant;
  absl::Status status = env_->Read([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(tenants_, Be64(tenant_id));
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::OkStatus();
    tenant.emplace();
    return Parse(**bytes, *tenant);
  });
  if (!status.ok()) return status;
  return tenant;
}

absl::StatusOr<std::vector<Tenant>> TokenStore::ListTenants() {
  std::vector<Tenant> tenants;
  absl::Status status = env_->Read([&](Txn& txn) {
    absl::Status parsed;
    absl::Status walk = txn.ForEachWithPrefix(tenants_, "", [&](auto, std::string_view value) {
      parsed = Parse(value, tenants.emplace_back());
      return parsed.ok();
    });
    return walk.ok() ? parsed : walk;
  });
  if (!status.ok()) return status;
  return tenants;
}

absl::StatusOr<Token> TokenStore::CreateToken(Token token) {
  Token stored;
  absl::Status status = env_->Write([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(tenants_, Be64(token.tenant_id()));
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::NotFoundError("no such tenant");
    Tenant tenant;
    absl::Status parsed = Parse(**bytes, tenant);
    if (!parsed.ok()) return parsed;
    stored = token;
    stored.set_slot_id(tenant.next_slot_id());
    tenant.set_next_slot_id(tenant.next_slot_id() + 1);
    absl::Status put = txn.Put(tenants_, Be64(tenant.id()), tenant.SerializeAsString());
    if (!put.ok()) return put;
    return txn.Put(tokens_, TokenKey(stored.tenant_id(), stored.slot_id()),
                   stored.SerializeAsString());
  });
  if (!status.ok()) return status;
  return stored;
}

absl::StatusOr<std::optional<Token>> TokenStore::GetToken(uint64_t tenant_id, uint64_t slot_id) {
  std::optional<Token> token;
  absl::Status status = env_->Read([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(tokens_, TokenKey(tenant_id, slot_id));
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::OkStatus();
    token.emplace();
    return Parse(**bytes, *token);
  });
  if (!status.ok()) return status;
  return token;
}

absl::StatusOr<std::vector<Token>> TokenStore::ListTokens(uint64_t tenant_id) {
  std::vector<Token> tokens;
  absl::Status status = env_->Read([&](Txn& txn) {
    absl::Status parsed;
    absl::Status walk = txn.ForEachWithPrefix(tokens_, Be64(tenant_id), [&](auto, std::string_view value) {
      parsed = Parse(value, tokens.emplace_back());
      return parsed.ok();
    });
    return walk.ok() ? parsed : walk;
  });
  if (!status.ok()) return status;
  return tokens;
}

absl::Status TokenStore::DeleteTenant(uint64_t tenant_id) {
  return env_->Write([&](Txn& txn) { return txn.Delete(tenants_, Be64(tenant_id)); });
}

absl::Status TokenStore::DeleteToken(uint64_t tenant_id, uint64_t slot_id) {
  return env_->Write([&](Txn& txn) { return txn.Delete(tokens_, TokenKey(tenant_id, slot_id)); });
}

absl::Status TokenStore::UpdateTenant(uint64_t tenant_id, const std::function<absl::Status(Tenant&)>& change) {
  return env_->Write([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(tenants_, Be64(tenant_id));
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::NotFoundError("no such tenant");
    Tenant tenant;
    absl::Status status = Parse(**bytes, tenant);
    if (!status.ok()) return status;
    status = change(tenant);
    if (!status.ok()) return status;
    return txn.Put(tenants_, Be64(tenant_id), tenant.SerializeAsString());
  });
}

absl::Status TokenStore::UpdateToken(uint64_t tenant_id, uint64_t slot_id,
                                     const std::function<absl::Status(Token&)>& change) {
  const std::string key = TokenKey(tenant_id, slot_id);
  return env_->Write([&](Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string_view>> bytes = txn.Get(tokens_, key);
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::NotFoundError("no such token");
    Token token;
    absl::Status status = Parse(**bytes, token);
    if (!status.ok()) return status;
    status = change(token);
    if (!status.ok()) return status;
    return txn.Put(tokens_, key, token.SerializeAsString());
  });
}

}  // namespace hsm::storage
