// The gRPC face of hsmd's PKCS #11 service: finds the caller's tenant and
// application, runs the Hsm method, and puts its CK_RV in the reply. RPCs not
// listed here are answered UNIMPLEMENTED by gRPC, which the client library
// reports as CKR_FUNCTION_NOT_SUPPORTED.
#ifndef HSM_SERVER_PKCS11_SERVICE_H_
#define HSM_SERVER_PKCS11_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/statusor.h"
#include "proto/hsm/v1/pkcs11.grpc.pb.h"
#include "server/application_registry.h"
#include "server/audit_log.h"
#include "server/audit_note.h"
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
using CallerResolver = std::function<absl::StatusOr<Caller>(const grpc::CallbackServerContext&)>;

class Pkcs11Service final : public v1::Pkcs11::CallbackService {
 public:
  // `audit` may be null (no audit trail).
  Pkcs11Service(Hsm* hsm, ApplicationRegistry* apps, CallerResolver caller_of, AuditLog* audit)
      : hsm_(hsm), apps_(apps), caller_of_(std::move(caller_of)), audit_(audit) {}

  grpc::ServerUnaryReactor* Initialize(grpc::CallbackServerContext* context,
                                       const v1::InitializeRequest* request,
                                       v1::InitializeReply* reply) override;

#define HSM_SERVE(Method, Request, Reply)                                                    \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                     \
                                   const v1::Request* request, v1::Reply* reply) override { \
    return Serve(context, request, reply, &Hsm::Method, "C_" #Method);                       \
  }
  HSM_SERVE(Finalize, AppRequest, StatusReply)
  HSM_SERVE(Heartbeat, AppRequest, StatusReply)
  HSM_SERVE(GetSlotList, GetSlotListRequest, GetSlotListReply)
  HSM_SERVE(GetSlotInfo, SlotRequest, GetSlotInfoReply)
  HSM_SERVE(GetTokenInfo, SlotRequest, GetTokenInfoReply)
  HSM_SERVE(GetMechanismList, SlotRequest, GetMechanismListReply)
  HSM_SERVE(GetMechanismInfo, GetMechanismInfoRequest, GetMechanismInfoReply)
  HSM_SERVE(InitToken, InitTokenRequest, StatusReply)
  HSM_SERVE(InitPIN, InitPinRequest, StatusReply)
  HSM_SERVE(SetPIN, SetPinRequest, StatusReply)
  HSM_SERVE(OpenSession, OpenSessionRequest, OpenSessionReply)
  HSM_SERVE(CloseSession, SessionRequest, StatusReply)
  HSM_SERVE(CloseAllSessions, SlotRequest, StatusReply)
  HSM_SERVE(GetSessionInfo, SessionRequest, GetSessionInfoReply)
  HSM_SERVE(Login, LoginRequest, StatusReply)
  HSM_SERVE(Logout, SessionRequest, StatusReply)
  HSM_SERVE(CreateObject, CreateObjectRequest, ObjectReply)
  HSM_SERVE(CopyObject, CopyObjectRequest, ObjectReply)
  HSM_SERVE(DestroyObject, ObjectRequest, StatusReply)
  HSM_SERVE(GetObjectSize, ObjectRequest, GetObjectSizeReply)
  HSM_SERVE(GetAttributeValue, GetAttributeValueRequest, GetAttributeValueReply)
  HSM_SERVE(SetAttributeValue, SetAttributeValueRequest, StatusReply)
  HSM_SERVE(FindObjectsInit, FindObjectsInitRequest, FindObjectsInitReply)
  HSM_SERVE(FindObjects, FindObjectsRequest, FindObjectsReply)
  HSM_SERVE(FindObjectsFinal, SessionRequest, StatusReply)
  HSM_SERVE(EncryptInit, OperationInitRequest, StatusReply)
  HSM_SERVE(Encrypt, DataRequest, DataReply)
  HSM_SERVE(EncryptUpdate, DataRequest, DataReply)
  HSM_SERVE(EncryptFinal, OutputRequest, DataReply)
  HSM_SERVE(DecryptInit, OperationInitRequest, StatusReply)
  HSM_SERVE(Decrypt, DataRequest, DataReply)
  HSM_SERVE(DecryptUpdate, DataRequest, DataReply)
  HSM_SERVE(DecryptFinal, OutputRequest, DataReply)
  HSM_SERVE(DigestInit, OperationInitRequest, StatusReply)
  HSM_SERVE(Digest, DataRequest, DataReply)
  HSM_SERVE(DigestUpdate, DataRequest, StatusReply)
  HSM_SERVE(DigestKey, ObjectRequest, StatusReply)
  HSM_SERVE(DigestFinal, OutputRequest, DataReply)
  HSM_SERVE(SignInit, OperationInitRequest, StatusReply)
  HSM_SERVE(Sign, DataRequest, DataReply)
  HSM_SERVE(SignUpdate, DataRequest, StatusReply)
  HSM_SERVE(SignFinal, OutputRequest, DataReply)
  HSM_SERVE(SignRecoverInit, OperationInitRequest, StatusReply)
  HSM_SERVE(SignRecover, DataRequest, DataReply)
  HSM_SERVE(VerifyInit, OperationInitRequest, StatusReply)
  HSM_SERVE(Verify, VerifyRequest, StatusReply)
  HSM_SERVE(VerifyUpdate, DataRequest, StatusReply)
  HSM_SERVE(VerifyFinal, VerifyRequest, StatusReply)
  HSM_SERVE(VerifyRecoverInit, OperationInitRequest, StatusReply)
  HSM_SERVE(VerifyRecover, DataRequest, DataReply)
  HSM_SERVE(GenerateKey, GenerateKeyRequest, ObjectReply)
  HSM_SERVE(GenerateKeyPair, GenerateKeyPairRequest, GenerateKeyPairReply)
  HSM_SERVE(WrapKey, WrapKeyRequest, DataReply)
  HSM_SERVE(UnwrapKey, UnwrapKeyRequest, ObjectReply)
  HSM_SERVE(DeriveKey, DeriveKeyRequest, ObjectReply)
  HSM_SERVE(SeedRandom, SeedRandomRequest, StatusReply)
  HSM_SERVE(GenerateRandom, GenerateRandomRequest, DataReply)
#undef HSM_SERVE

 private:
  template <typename Request, typename Reply>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const Request* request,
                                  Reply* reply,
                                  absl::Status (Hsm::*method)(Application&, const Request&, Reply*),
                                  const char* name) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<Caller> caller = caller_of_(*context);
    if (!caller.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message())));
      return reactor;
    }
    std::shared_ptr<Application> app = apps_->Find(request->app(), caller->tenant_id);
    if (app == nullptr) {
      reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "unknown application"));
      return reactor;
    }
    TakeAuditNote();  // start clean
    reply->set_rv(ToRv((hsm_->*method)(*app, *request, reply)));
    if (audit_ != nullptr && (IsAudited(name) || (reply->rv() != CKR_OK && IsAuditedWhenRefused(name)))) {
      AuditCall(*caller, *app, *request, name, reply->rv());
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // Whether calls of the RPC `name` are security events.
  static bool IsAudited(const char* name);
  // Whether refusals of the RPC `name` are (a quota reached, for instance).
  static bool IsAuditedWhenRefused(const char* name);
  void AuditCall(const Caller& caller, const Application& app, const google::protobuf::Message& request,
                 const char* name, uint64_t rv);

  Hsm* hsm_;
  ApplicationRegistry* apps_;
  CallerResolver caller_of_;
  AuditLog* audit_;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_PKCS11_SERVICE_H_
