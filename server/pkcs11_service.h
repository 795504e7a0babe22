// The gRPC face of hsmd's PKCS #11 service: finds the caller's tenant and
// application, runs the Hsm method, and puts its CK_RV in the reply.
#ifndef HSM_SERVER_PKCS11_SERVICE_H_
#define HSM_SERVER_PKCS11_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <optional>
#include <type_traits>

#include "absl/status/statusor.h"
#include "proto/hsm/v1/pkcs11.pb.h"
#include "server/application_registry.h"
#include "server/audit_log.h"
#include "server/audit_note.h"
#include "server/blocking.h"
#include "server/hsm.h"
#include "server/rv.h"

namespace hsm::server {

// Who is calling: the tenant and the identity it proved (its TLS certificate).
struct Caller {
  uint64_t tenant_id = 0;
  std::string tenant;
  std::string identity;
};

// Which tenant a call comes from; an error refuses the call.
using CallerResolver = std::function<absl::StatusOr<Caller>(const grpc::ServerContextBase&)>;

// Runs the Hsm method of each RPC for the caller (server/rpc_routes.cc says
// which method serves which RPC).
class Pkcs11Service final {
 public:
  // `audit` may be null (no audit trail). With `refuse_unaudited`, a call that
  // must be audited is refused while the audit log cannot be written.
  Pkcs11Service(Hsm* hsm, ApplicationRegistry* apps, CallerResolver caller_of, AuditLog* audit,
                bool refuse_unaudited)
      : hsm_(hsm),
        apps_(apps),
        caller_of_(std::move(caller_of)),
        audit_(audit),
        refuse_unaudited_(refuse_unaudited) {}

  grpc::Status Initialize(grpc::ServerContext& context, const v1::InitializeRequest& request,
                          v1::InitializeReply* reply);

  // Every other RPC: the caller's application, then `method` (named `name`
  // in the audit trail).
  template <typename Request, typename Reply>
  grpc::Status Serve(grpc::ServerContext& context, const Request& request, Reply* reply,
                     absl::Status (Hsm::*method)(Application&, const Request&, Reply*), const char* name) {
    absl::StatusOr<Caller> caller = caller_of_(context);
    if (!caller.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
    }
    std::shared_ptr<Application> app = apps_->Find(request.app(), caller->tenant_id);
    if (app == nullptr) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "unknown application");
    if (refuse_unaudited_ && audit_ != nullptr && audit_->failing() && (IsAudited(name) || CarriesInit(request)) &&
        !audit_->Writable()) {
      // A key's use (or a login, a key made) that the trail could not show:
      // refused before it runs. The first such call after the log failed
      // has run already; its record is counted among the lost.
      reply->set_rv(audit_->FailedForRoom() ? CKR_DEVICE_MEMORY : CKR_DEVICE_ERROR);
      return grpc::Status::OK;
    }
    TakeAuditNote();  // start clean
    TakeDeferredInit();
    reply->set_rv(ToRv((hsm_->*method)(*app, request, reply)));
    if constexpr (std::is_same_v<Reply, v1::DataReply>) reply->set_cores_busy(CoresBusyComputing());
    // A data call that carried its operation's Init (the client defers
    // C_SignInit ...): the Init is audited as if it had come alone.
    if (std::optional<DeferredInitNote> init = TakeDeferredInit();
        init.has_value() && audit_ != nullptr && IsAudited(init->operation.c_str())) {
      AuditEvent event = DeferredInitEvent(*init);
      event.tenant = caller->tenant;
      event.client = caller->identity;
      event.application = app->id();
      audit_->Record(event);
    }
    if (audit_ != nullptr && (IsAudited(name) || (reply->rv() != CKR_OK && IsAuditedWhenRefused(name)))) {
      AuditCall(*caller, *app, request, name, reply->rv());
    }
    return grpc::Status::OK;
  }

 private:
  // Whether calls of the RPC `name` are security events.
  static bool IsAudited(const char* name);
  // Whether refusals of the RPC `name` are (a quota reached, for instance).
  static bool IsAuditedWhenRefused(const char* name);
  // Whether `request` carries a deferred Init (which may be audited: a
  // C_SignInit or C_DecryptInit inside a C_Sign or C_Decrypt).
  template <typename Request>
  static bool CarriesInit(const Request& request) {
    if constexpr (HasInit<Request>::value) {
      return request.has_init();
    } else {
      return false;
    }
  }
  template <typename T, typename = void>
  struct HasInit : std::false_type {};
  template <typename T>
  struct HasInit<T, std::void_t<decltype(std::declval<const T&>().has_init())>> : std::true_type {};
  void AuditCall(const Caller& caller, const Application& app, const google::protobuf::Message& request,
                 const char* name, uint64_t rv);

  Hsm* hsm_;
  ApplicationRegistry* apps_;
  CallerResolver caller_of_;
  AuditLog* audit_;
  const bool refuse_unaudited_;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_PKCS11_SERVICE_H_
