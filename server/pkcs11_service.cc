#include "server/pkcs11_service.h"

namespace hsm::server {

grpc::ServerUnaryReactor* Pkcs11Service::Initialize(grpc::CallbackServerContext* context,
                                                    const v1::InitializeRequest* request,
                                                    v1::InitializeReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<uint64_t> tenant = tenant_of_(*context);
  if (!tenant.ok()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "caller not recognised"));
    return reactor;
  }
  reply->set_rv(ToRv(hsm_->Initialize(*tenant, context->peer(), *request, reply)));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hsm::server
