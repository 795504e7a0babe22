#include "server/rpc_routes.h"

#include "absl/strings/match.h"

namespace hsm::server {
namespace {

bool FromAdminSocket(const grpc::ServerContext& context) { return absl::StartsWith(context.peer(), "unix:"); }

const grpc::Status kAdminOnly(grpc::StatusCode::PERMISSION_DENIED, "the admin socket serves only the admin API");
const grpc::Status kNotAdmin(grpc::StatusCode::PERMISSION_DENIED,
                             "the admin API is served only on hsmd's admin socket");
const grpc::Status kUnimplemented(grpc::StatusCode::UNIMPLEMENTED, "not supported by hsmd");

}  // namespace

void RoutePkcs11(RpcServer& rpc, v1::Pkcs11::AsyncService& service, Pkcs11Service& pkcs11) {
  using Service = v1::Pkcs11::AsyncService;
  rpc.Route(&service, &Service::RequestInitialize, CallCost::kMayBlock,
            [&pkcs11](grpc::ServerContext& context, const v1::InitializeRequest& request, v1::InitializeReply* reply) {
              if (FromAdminSocket(context)) return kAdminOnly;
              return pkcs11.Initialize(context, request, reply);
            });

  // Quick calls run on the polling thread; calls that may block (private-key
  // operations, PIN hashing, LMDB writes, searches that may read every
  // object) let another thread poll meanwhile.
#define HSM_ROUTE(Method, Cost)                                                                 \
  rpc.Route(&service, &Service::Request##Method, CallCost::Cost,                                \
            [&pkcs11](grpc::ServerContext& context, const auto& request, auto* reply) {         \
              if (FromAdminSocket(context)) return kAdminOnly;                                  \
              return pkcs11.Serve(context, request, reply, &Hsm::Method, "C_" #Method);         \
            })
  HSM_ROUTE(Finalize, kMayBlock);
  HSM_ROUTE(Heartbeat, kQuick);
  HSM_ROUTE(GetSlotList, kQuick);
  HSM_ROUTE(GetSlotInfo, kQuick);
  HSM_ROUTE(GetTokenInfo, kQuick);
  HSM_ROUTE(GetMechanismList, kQuick);
  HSM_ROUTE(GetMechanismInfo, kQuick);
  HSM_ROUTE(InitToken, kLong);
  HSM_ROUTE(InitPIN, kLong);
  HSM_ROUTE(SetPIN, kLong);
  HSM_ROUTE(OpenSession, kQuick);
  HSM_ROUTE(CloseSession, kQuick);
  HSM_ROUTE(CloseAllSessions, kQuick);
  HSM_ROUTE(GetSessionInfo, kQuick);
  HSM_ROUTE(Login, kLong);
  HSM_ROUTE(Logout, kQuick);
  HSM_ROUTE(CreateObject, kMayBlock);
  HSM_ROUTE(CopyObject, kMayBlock);
  HSM_ROUTE(DestroyObject, kMayBlock);
  HSM_ROUTE(GetObjectSize, kQuick);
  HSM_ROUTE(GetAttributeValue, kQuick);
  HSM_ROUTE(SetAttributeValue, kMayBlock);
  HSM_ROUTE(FindObjectsInit, kMayBlock);
  HSM_ROUTE(FindObjects, kQuick);
  HSM_ROUTE(FindObjectsFinal, kQuick);
  HSM_ROUTE(EncryptInit, kQuick);
  HSM_ROUTE(Encrypt, kQuick);
  HSM_ROUTE(EncryptUpdate, kQuick);
  HSM_ROUTE(EncryptFinal, kQuick);
  HSM_ROUTE(DecryptInit, kQuick);
  HSM_ROUTE(Decrypt, kQuick);  // an RSA key says so itself (server/blocking.h)
  HSM_ROUTE(DecryptUpdate, kQuick);
  HSM_ROUTE(DecryptFinal, kQuick);
  HSM_ROUTE(DigestInit, kQuick);
  HSM_ROUTE(Digest, kQuick);
  HSM_ROUTE(DigestUpdate, kQuick);
  HSM_ROUTE(DigestKey, kQuick);
  HSM_ROUTE(DigestFinal, kQuick);
  HSM_ROUTE(SignInit, kQuick);
  HSM_ROUTE(Sign, kQuick);  // an RSA key says so itself (server/blocking.h)
  HSM_ROUTE(SignUpdate, kQuick);
  HSM_ROUTE(SignFinal, kQuick);  // an RSA key says so itself (server/blocking.h)
  HSM_ROUTE(SignRecoverInit, kQuick);
  HSM_ROUTE(SignRecover, kQuick);  // an RSA key says so itself (server/blocking.h)
  HSM_ROUTE(VerifyInit, kQuick);
  HSM_ROUTE(Verify, kQuick);
  HSM_ROUTE(VerifyUpdate, kQuick);
  HSM_ROUTE(VerifyFinal, kQuick);
  HSM_ROUTE(VerifyRecoverInit, kQuick);
  HSM_ROUTE(VerifyRecover, kQuick);
  HSM_ROUTE(GenerateKey, kMayBlock);
  HSM_ROUTE(GenerateKeyPair, kMayBlock);
  HSM_ROUTE(WrapKey, kMayBlock);
  HSM_ROUTE(UnwrapKey, kMayBlock);
  HSM_ROUTE(DeriveKey, kMayBlock);
  HSM_ROUTE(SeedRandom, kQuick);
  HSM_ROUTE(GenerateRandom, kQuick);
#undef HSM_ROUTE

  // Operation state and the dual-function calls: the client library reports
  // UNIMPLEMENTED as CKR_FUNCTION_NOT_SUPPORTED.
#define HSM_UNIMPLEMENTED(Method)                                                          \
  rpc.Route(&service, &Service::Request##Method, CallCost::kQuick,                         \
            [](grpc::ServerContext&, const auto&, auto*) { return kUnimplemented; })
  HSM_UNIMPLEMENTED(GetOperationState);
  HSM_UNIMPLEMENTED(SetOperationState);
  HSM_UNIMPLEMENTED(DigestEncryptUpdate);
  HSM_UNIMPLEMENTED(DecryptDigestUpdate);
  HSM_UNIMPLEMENTED(SignEncryptUpdate);
  HSM_UNIMPLEMENTED(DecryptVerifyUpdate);
#undef HSM_UNIMPLEMENTED
}

void RouteAdmin(RpcServer& rpc, v1::Admin::AsyncService& service, AdminService& admin) {
  using Service = v1::Admin::AsyncService;
#define HSM_ROUTE(Method)                                                                  \
  rpc.Route(&service, &Service::Request##Method, CallCost::kMayBlock,                      \
            [&admin](grpc::ServerContext& context, const auto& request, auto* reply) {     \
              if (!FromAdminSocket(context)) return kNotAdmin;                             \
              return admin.Method(&context, &request, reply);                              \
            })
  HSM_ROUTE(ServerStatus);
  HSM_ROUTE(CreateTenant);
  HSM_ROUTE(ListTenants);
  HSM_ROUTE(DeleteTenant);
  HSM_ROUTE(SetTenantQuota);
  HSM_ROUTE(CreateToken);
  HSM_ROUTE(ListTokens);
  HSM_ROUTE(ClearToken);
  HSM_ROUTE(DeleteToken);
  HSM_ROUTE(SetTokenPin);
  HSM_ROUTE(UnlockPin);
  HSM_ROUTE(ListObjects);
  HSM_ROUTE(AuditTail);
  HSM_ROUTE(AuditVerify);
  HSM_ROUTE(Backup);
#undef HSM_ROUTE
}

}  // namespace hsm::server
