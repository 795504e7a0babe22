#include "server/pkcs11_service.h"

#include <cstring>

namespace hsm::server {

grpc::Status Pkcs11Service::Initialize(grpc::ServerContext& context, const v1::InitializeRequest& request,
                                       v1::InitializeReply* reply) {
  absl::StatusOr<Caller> caller = caller_of_(context);
  if (!caller.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
  }
  reply->set_rv(ToRv(hsm_->Initialize(caller->tenant_id, caller->identity + " at " + context.peer(), request,
                                      reply)));
  if (audit_ != nullptr && reply->rv() != CKR_OK) {
    AuditEvent event;
    event.operation = "C_Initialize";
    event.tenant = caller->tenant;
    event.client = caller->identity;
    event.result = AuditResult(reply->rv());
    audit_->Record(event);
  }
  return grpc::Status::OK;
}

bool Pkcs11Service::IsAudited(const char* name) {
  // Logins and PIN changes, key generation, every use of a private or secret
  // key (at its Init: one per operation), object creation and destruction.
  static constexpr const char* kAudited[] = {
      "C_Login",       "C_Logout",          "C_InitToken",  "C_InitPIN",     "C_SetPIN",
      "C_CreateObject", "C_CopyObject",     "C_DestroyObject", "C_SetAttributeValue",
      "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey",    "C_UnwrapKey",   "C_DeriveKey",
      "C_SignInit",    "C_SignRecoverInit", "C_DecryptInit"};
  for (const char* audited : kAudited) {
    if (std::strcmp(name, audited) == 0) return true;
  }
  return false;
}

bool Pkcs11Service::IsAuditedWhenRefused(const char* name) { return std::strcmp(name, "C_OpenSession") == 0; }

void Pkcs11Service::AuditCall(const Caller& caller, const Application& app, const google::protobuf::Message& request,
                              const char* name, uint64_t rv) {
  AuditEvent event;
  event.operation = name;
  event.tenant = caller.tenant;
  event.client = caller.identity;
  event.application = app.id();
  event.result = AuditResult(rv);
  // Every request of these RPCs names its session; those with a mechanism
  // name it in a `mechanism` message.
  const google::protobuf::Descriptor* descriptor = request.GetDescriptor();
  const google::protobuf::Reflection* reflection = request.GetReflection();
  if (const auto* session = descriptor->FindFieldByName("session")) {
    event.session = reflection->GetUInt64(request, session);
  }
  if (const auto* mechanism = descriptor->FindFieldByName("mechanism")) {
    const auto& message = static_cast<const v1::Mechanism&>(reflection->GetMessage(request, mechanism));
    event.mechanism = message.type();
    event.has_mechanism = true;
  }
  AuditNote note = TakeAuditNote();
  event.object = note.object;
  event.object_label = note.label;
  event.object_id_hex = note.id_hex;
  audit_->Record(event);
}

}  // namespace hsm::server
