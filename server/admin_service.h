// The administration API (proto/hsm/v1/admin.proto): tenants, tokens, PINs,
// object metadata, the audit trail and backups. Every action is audited.
#ifndef HSM_SERVER_ADMIN_SERVICE_H_
#define HSM_SERVER_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/time/time.h"
#include "proto/hsm/v1/admin.grpc.pb.h"
#include "server/application_registry.h"
#include "server/audit_log.h"
#include "server/hsm.h"
#include "storage/lmdb_env.h"
#include "storage/object_store.h"
#include "storage/token_store.h"

namespace hsm::server {

struct AdminContext {
  storage::LmdbEnv* env;
  storage::TokenStore* tokens;
  storage::ObjectStore* objects;
  ApplicationRegistry* apps;
  Hsm* hsm;
  AuditLog* audit;
  std::string listen;
  std::string data_dir;
  bool tls;
  absl::Time started;
};

// Served by server/rpc_routes.cc, on the admin socket only.
class AdminService final {
 public:
  explicit AdminService(AdminContext context) : c_(std::move(context)) {}

  // The address hsmd listens on, once the port is known; before serving.
  void SetListenAddress(std::string listen) { c_.listen = std::move(listen); }

  grpc::Status ServerStatus(grpc::ServerContext*, const v1::ServerStatusRequest*, v1::ServerStatusReply*);
  grpc::Status CreateTenant(grpc::ServerContext*, const v1::TenantRequest*, v1::TenantInfo*);
  grpc::Status ListTenants(grpc::ServerContext*, const v1::ListTenantsRequest*, v1::ListTenantsReply*);
  grpc::Status DeleteTenant(grpc::ServerContext*, const v1::TenantRequest*, v1::Empty*);
  grpc::Status SetTenantQuota(grpc::ServerContext*, const v1::TenantQuotaRequest*, v1::TenantInfo*);
  grpc::Status CreateToken(grpc::ServerContext*, const v1::CreateTokenRequest*, v1::AdminTokenInfo*);
  grpc::Status ListTokens(grpc::ServerContext*, const v1::TenantRequest*, v1::ListTokensReply*);
  grpc::Status ClearToken(grpc::ServerContext*, const v1::TokenRequest*, v1::Empty*);
  grpc::Status DeleteToken(grpc::ServerContext*, const v1::TokenRequest*, v1::Empty*);
  grpc::Status SetTokenPin(grpc::ServerContext*, const v1::SetTokenPinRequest*, v1::Empty*);
  grpc::Status UnlockPin(grpc::ServerContext*, const v1::UnlockPinRequest*, v1::Empty*);
  grpc::Status ListObjects(grpc::ServerContext*, const v1::TokenRequest*, v1::ListObjectsReply*);
  grpc::Status AuditTail(grpc::ServerContext*, const v1::AuditTailRequest*, v1::AuditTailReply*);
  grpc::Status AuditVerify(grpc::ServerContext*, const v1::AuditVerifyRequest*, v1::AuditVerifyReply*);
  grpc::Status Backup(grpc::ServerContext*, const v1::BackupRequest*, v1::BackupReply*);

 private:
  absl::StatusOr<storage::Tenant> FindTenant(const std::string& name);
  absl::StatusOr<storage::Token> FindToken(const storage::Tenant& tenant, uint64_t slot_id);
  void Audit(const std::string& operation, const std::string& tenant, const grpc::Status& result,
             const std::string& detail);

  AdminContext c_;
};

// Whether a token label is one NSS can use: at most 32 bytes, no ':' (NSS
// names certificates "token:nickname"), no leading or trailing blanks.
absl::Status CheckTokenLabel(const std::string& label);

}  // namespace hsm::server

#endif  // HSM_SERVER_ADMIN_SERVICE_H_
