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
#include "server/hsm.h"
#include "server/rv.h"

namespace hsm::server {

// Which tenant a call comes from (from its TLS identity); an error refuses it.
using TenantResolver = std::function<absl::StatusOr<uint64_t>(const grpc::CallbackServerContext&)>;

class Pkcs11Service final : public v1::Pkcs11::CallbackService {
 public:
  Pkcs11Service(Hsm* hsm, ApplicationRegistry* apps, TenantResolver tenant_of)
      : hsm_(hsm), apps_(apps), tenant_of_(std::move(tenant_of)) {}

  grpc::ServerUnaryReactor* Initialize(grpc::CallbackServerContext* context,
                                       const v1::InitializeRequest* request,
                                       v1::InitializeReply* reply) override;

#define HSM_SERVE(Method, Request, Reply)                                                    \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                     \
                                   const v1::Request* request, v1::Reply* reply) override { \
    return Serve(context, request, reply, &Hsm::Method);                                     \
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
  HSM_SERVE(FindObjectsInit, FindObjectsInitRequest, StatusReply)
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
                                  absl::Status (Hsm::*method)(Application&, const Request&, Reply*)) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<uint64_t> tenant = tenant_of_(*context);
    if (!tenant.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "caller not recognised"));
      return reactor;
    }
    std::shared_ptr<Application> app = apps_->Find(request->app(), *tenant);
    if (app == nullptr) {
      reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "unknown application"));
      return reactor;
    }
    reply->set_rv(ToRv((hsm_->*method)(*app, *request, reply)));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  Hsm* hsm_;
  ApplicationRegistry* apps_;
  TenantResolver tenant_of_;
};

}  // namespace hsm::server

#endif  // HSM_SERVER_PKCS11_SERVICE_H_
