// Tenant quotas: how many applications, sessions and token objects a tenant
// may have at once (0: no limit, but for sessions and applications, which take
// --max_sessions_per_tenant and --max_applications_per_tenant). A refusal
// harms nothing already stored.
#include "server/hsm.h"
#include "server/rv.h"

namespace hsm::server {
namespace {

// A tenant's own quota, or hsmd's default where it sets none (0).
uint64_t QuotaOr(uint64_t quota, uint64_t fallback) { return quota != 0 ? quota : fallback; }

}  // namespace

absl::Status Hsm::CheckApplicationQuota(uint64_t tenant_id) {
  HSM_ASSIGN_OR_RETURN(std::optional<storage::Tenant> tenant, tokens_->GetTenant(tenant_id));
  const uint64_t limit =
      QuotaOr(tenant.has_value() ? tenant->max_applications() : 0, options_.max_applications_per_tenant);
  if (limit == 0) return absl::OkStatus();
  uint64_t applications = 0;
  apps_->ForEach(tenant_id, [&](Application&) { ++applications; });
  if (applications >= limit) return RvError(CKR_DEVICE_MEMORY, "application quota");
  return absl::OkStatus();
}

bool Hsm::HasSessionQuota(uint64_t tenant_id) {
  absl::StatusOr<std::optional<storage::Tenant>> tenant = tokens_->GetTenant(tenant_id);
  // If in doubt, say there is one: the client then keeps no spare sessions.
  return !tenant.ok() || !tenant->has_value() || (*tenant)->max_sessions() != 0;
}

absl::StatusOr<uint64_t> Hsm::TenantSessionLimit(const Application& app) {
  HSM_ASSIGN_OR_RETURN(std::optional<storage::Tenant> tenant, tokens_->GetTenant(app.tenant_id()));
  // Without a quota of its own, a tenant still may not open sessions until
  // hsmd's memory runs out.
  return QuotaOr(tenant.has_value() ? tenant->max_sessions() : 0, options_.max_sessions_per_tenant);
}

absl::Status Hsm::CheckObjectQuota(uint64_t tenant_id) {
  HSM_ASSIGN_OR_RETURN(std::optional<storage::Tenant> tenant, tokens_->GetTenant(tenant_id));
  if (!tenant.has_value() || tenant->max_objects() == 0) return absl::OkStatus();
  HSM_ASSIGN_OR_RETURN(uint64_t objects, objects_->CountTenant(tenant_id));
  if (objects >= tenant->max_objects()) return RvError(CKR_DEVICE_MEMORY, "object quota");
  return absl::OkStatus();
}

}  // namespace hsm::server
