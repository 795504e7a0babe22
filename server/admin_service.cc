#include "server/admin_service.h"

#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/attribute_rules.h"
#include "server/dev_setup.h"
#include "server/pin_verifier.h"
#include "server/rv.h"

namespace hsm::server {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return grpc::Status(grpc::StatusCode::NOT_FOUND, message);
    case absl::StatusCode::kAlreadyExists:
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, message);
    case absl::StatusCode::kInvalidArgument:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
    case absl::StatusCode::kFailedPrecondition:
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, message);
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL, message);
  }
}

absl::Status CheckPin(const HsmOptions& options, const std::string& pin) {
  if (PinLengthInRange(options, pin.size())) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("PINs have ", options.min_pin_len, " to ", options.max_pin_len, " characters"));
}

}  // namespace

absl::Status CheckTokenLabel(const std::string& label) {
  if (label.empty()) return absl::InvalidArgumentError("a token needs a label");
  if (label.size() > 32) return absl::InvalidArgumentError("a token label has at most 32 bytes");
  if (label.find(':') != std::string::npos) {
    return absl::InvalidArgumentError("a token label may not contain ':' (NSS names objects \"token:nickname\")");
  }
  if (label.front() == ' ' || label.back() == ' ') {
    return absl::InvalidArgumentError("a token label may not start or end with a blank (PKCS #11 pads labels with them)");
  }
  return absl::OkStatus();
}

void AdminService::Audit(const std::string& operation, const std::string& tenant, const grpc::Status& result,
                         const std::string& detail) {
  if (c_.audit == nullptr) return;
  AuditEvent event;
  event.operation = "admin." + operation;
  event.tenant = tenant;
  event.client = "administrator";
  event.result = result.ok() ? "OK" : result.error_message();
  event.detail = detail;
  c_.audit->Record(event);
}

absl::StatusOr<storage::Tenant> AdminService::FindTenant(const std::string& name) {
  absl::StatusOr<std::optional<storage::Tenant>> tenant = c_.tokens->FindTenant(name);
  if (!tenant.ok()) return tenant.status();
  if (!tenant->has_value()) return absl::NotFoundError(absl::StrCat("no tenant '", name, "'"));
  return **tenant;
}

absl::StatusOr<storage::Token> AdminService::FindToken(const storage::Tenant& tenant, uint64_t slot_id) {
  absl::StatusOr<std::optional<storage::Token>> token = c_.tokens->GetToken(tenant.id(), slot_id);
  if (!token.ok()) return token.status();
  if (!token->has_value()) {
    return absl::NotFoundError(absl::StrCat("tenant '", tenant.name(), "' has no token in slot ", slot_id));
  }
  return **token;
}

grpc::Status AdminService::ServerStatus(grpc::ServerContext*, const v1::ServerStatusRequest*,
                                        v1::ServerStatusReply* reply) {
  reply->set_version(absl::StrCat(kVersionMajor, ".", kVersionMinor));
  reply->set_listen(c_.listen);
  reply->set_data_dir(c_.data_dir);
  absl::StatusOr<std::vector<storage::Tenant>> tenants = c_.tokens->ListTenants();
  reply->set_tenants(tenants.ok() ? tenants->size() : 0);
  reply->set_applications(c_.apps->size());
  reply->set_uptime_seconds(absl::ToInt64Seconds(absl::Now() - c_.started));
  reply->set_tls(c_.tls);
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateTenant(grpc::ServerContext*, const v1::TenantRequest* request,
                                        v1::TenantInfo* reply) {
  grpc::Status result;
  if (request->tenant().empty() || request->tenant().find_first_of(" \t\n:/") != std::string::npos) {
    result = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a tenant name is one word without ':' or '/'");
  } else {
    absl::StatusOr<storage::Tenant> tenant = c_.tokens->CreateTenant(request->tenant());
    result = ToGrpc(tenant.status());
    if (tenant.ok()) {
      reply->set_name(tenant->name());
      reply->set_id(tenant->id());
    }
  }
  Audit("tenant.create", request->tenant(), result, "");
  return result;
}

grpc::Status AdminService::ListTenants(grpc::ServerContext*, const v1::ListTenantsRequest*,
                                       v1::ListTenantsReply* reply) {
  absl::StatusOr<std::vector<storage::Tenant>> tenants = c_.tokens->ListTenants();
  if (!tenants.ok()) return ToGrpc(tenants.status());
  for (const storage::Tenant& tenant : *tenants) {
    v1::TenantInfo* info = reply->add_tenants();
    info->set_name(tenant.name());
    info->set_id(tenant.id());
    absl::StatusOr<std::vector<storage::Token>> tokens = c_.tokens->ListTokens(tenant.id());
    info->set_tokens(tokens.ok() ? tokens->size() : 0);
    info->set_max_objects(tenant.max_objects());
    info->set_max_sessions(tenant.max_sessions());
    info->set_max_applications(tenant.max_applications());
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::DeleteTenant(grpc::ServerContext*, const v1::TenantRequest* request, v1::Empty*) {
  absl::Status status = [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_ASSIGN_OR_RETURN(std::vector<storage::Token> tokens, c_.tokens->ListTokens(tenant.id()));
    for (const storage::Token& token : tokens) {
      const storage::TokenRef ref{tenant.id(), token.slot_id()};
      c_.hsm->ForgetKeys(ref);
      HSM_RETURN_IF_ERROR(c_.objects->DestroyAll(ref));
      HSM_RETURN_IF_ERROR(c_.tokens->DeleteToken(tenant.id(), token.slot_id()));
    }
    return c_.tokens->DeleteTenant(tenant.id());
  }();
  grpc::Status result = ToGrpc(status);
  Audit("tenant.delete", request->tenant(), result, "");
  return result;
}

grpc::Status AdminService::SetTenantQuota(grpc::ServerContext*, const v1::TenantQuotaRequest* request,
                                          v1::TenantInfo* reply) {
  absl::Status status = [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_RETURN_IF_ERROR(c_.tokens->UpdateTenant(tenant.id(), [&](storage::Tenant& stored) {
      stored.set_max_objects(request->max_objects());
      stored.set_max_sessions(request->max_sessions());
      stored.set_max_applications(request->max_applications());
      return absl::OkStatus();
    }));
    reply->set_name(tenant.name());
    reply->set_id(tenant.id());
    reply->set_max_objects(request->max_objects());
    reply->set_max_sessions(request->max_sessions());
    reply->set_max_applications(request->max_applications());
    return absl::OkStatus();
  }();
  grpc::Status result = ToGrpc(status);
  Audit("tenant.quota", request->tenant(), result,
        absl::StrCat("objects=", request->max_objects(), " sessions=", request->max_sessions(),
                     " applications=", request->max_applications()));
  return result;
}

grpc::Status AdminService::CreateToken(grpc::ServerContext*, const v1::CreateTokenRequest* request,
                                       v1::AdminTokenInfo* reply) {
  absl::Status status = [&]() -> absl::Status {
    HSM_RETURN_IF_ERROR(CheckTokenLabel(request->label()));
    const HsmOptions& options = c_.hsm->options();
    HSM_RETURN_IF_ERROR(CheckPin(options, request->so_pin()));
    if (!request->user_pin().empty()) HSM_RETURN_IF_ERROR(CheckPin(options, request->user_pin()));
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_ASSIGN_OR_RETURN(std::vector<storage::Token> existing, c_.tokens->ListTokens(tenant.id()));
    for (const storage::Token& token : existing) {
      if (token.label() == request->label()) {
        return absl::AlreadyExistsError(absl::StrCat("tenant '", tenant.name(), "' already has a token labelled '",
                                                     request->label(), "' (slot ", token.slot_id(), ")"));
      }
    }
    HSM_ASSIGN_OR_RETURN(storage::Token token, NewToken(tenant.id(), request->label(), request->so_pin(),
                                                         request->user_pin(), options));
    HSM_ASSIGN_OR_RETURN(storage::Token stored, c_.tokens->CreateToken(token));
    reply->set_tenant(tenant.name());
    reply->set_slot_id(stored.slot_id());
    reply->set_label(stored.label());
    reply->set_serial_number(stored.serial_number());
    reply->set_user_pin_initialized(stored.has_user_pin());
    return absl::OkStatus();
  }();
  grpc::Status result = ToGrpc(status);
  Audit("token.create", request->tenant(), result, absl::StrCat("label=", request->label()));
  return result;
}

grpc::Status AdminService::ListTokens(grpc::ServerContext*, const v1::TenantRequest* request,
                                      v1::ListTokensReply* reply) {
  absl::Status status = [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_ASSIGN_OR_RETURN(std::vector<storage::Token> tokens, c_.tokens->ListTokens(tenant.id()));
    for (const storage::Token& token : tokens) {
      v1::AdminTokenInfo* info = reply->add_tokens();
      info->set_tenant(tenant.name());
      info->set_slot_id(token.slot_id());
      info->set_label(token.label());
      info->set_serial_number(token.serial_number());
      info->set_user_pin_initialized(token.has_user_pin());
      info->set_user_pin_failures(token.user_pin_failures());
      info->set_so_pin_failures(token.so_pin_failures());
      absl::StatusOr<size_t> count = c_.objects->Count({tenant.id(), token.slot_id()});
      info->set_objects(count.ok() ? *count : 0);
    }
    return absl::OkStatus();
  }();
  return ToGrpc(status);
}

grpc::Status AdminService::ClearToken(grpc::ServerContext*, const v1::TokenRequest* request, v1::Empty*) {
  absl::Status status = [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_RETURN_IF_ERROR(FindToken(tenant, request->slot_id()).status());
    const storage::TokenRef ref{tenant.id(), request->slot_id()};
    c_.hsm->ForgetKeys(ref);
    return c_.objects->DestroyAll(ref);
  }();
  grpc::Status result = ToGrpc(status);
  Audit("token.clear", request->tenant(), result, absl::StrCat("slot=", request->slot_id()));
  return result;
}

grpc::Status AdminService::DeleteToken(grpc::ServerContext*, const v1::TokenRequest* request, v1::Empty*) {
  absl::Status status = [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_RETURN_IF_ERROR(FindToken(tenant, request->slot_id()).status());
    const storage::TokenRef ref{tenant.id(), request->slot_id()};
    c_.hsm->ForgetKeys(ref);
    HSM_RETURN_IF_ERROR(c_.objects->DestroyAll(ref));
    return c_.tokens->DeleteToken(tenant.id(), request->slot_id());
  }();
  grpc::Status result = ToGrpc(status);
  Audit("token.delete", request->tenant(), result, absl::StrCat("slot=", request->slot_id()));
  return result;
}

grpc::Status AdminService::SetTokenPin(grpc::ServerContext*, const v1::SetTokenPinRequest* request, v1::Empty*) {
  absl::Status status = [&]() -> absl::Status {
    if (request->user() == v1::PIN_USER_UNSPECIFIED) return absl::InvalidArgumentError("which PIN: user or so");
    const HsmOptions& options = c_.hsm->options();
    HSM_RETURN_IF_ERROR(CheckPin(options, request->new_pin()));
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_RETURN_IF_ERROR(FindToken(tenant, request->slot_id()).status());
    HSM_ASSIGN_OR_RETURN(storage::PinVerifier verifier, MakePinVerifier(request->new_pin(), options.pin_kdf_iterations));
    return c_.tokens->UpdateToken(tenant.id(), request->slot_id(), [&](storage::Token& token) {
      if (request->user() == v1::PIN_USER_SO) {
        *token.mutable_so_pin() = verifier;
        token.set_so_pin_failures(0);
      } else {
        *token.mutable_user_pin() = verifier;
        token.set_user_pin_failures(0);
      }
      return absl::OkStatus();
    });
  }();
  grpc::Status result = ToGrpc(status);
  Audit("pin.set", request->tenant(), result,
        absl::StrCat("slot=", request->slot_id(), " user=", v1::PinUser_Name(request->user())));
  return result;
}

grpc::Status AdminService::UnlockPin(grpc::ServerContext*, const v1::UnlockPinRequest* request, v1::Empty*) {
  absl::Status status = [&]() -> absl::Status {
    if (request->user() == v1::PIN_USER_UNSPECIFIED) return absl::InvalidArgumentError("which PIN: user or so");
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_RETURN_IF_ERROR(FindToken(tenant, request->slot_id()).status());
    return c_.tokens->UpdateToken(tenant.id(), request->slot_id(), [&](storage::Token& token) {
      if (request->user() == v1::PIN_USER_SO) {
        token.set_so_pin_failures(0);
      } else {
        token.set_user_pin_failures(0);
      }
      return absl::OkStatus();
    });
  }();
  grpc::Status result = ToGrpc(status);
  Audit("pin.unlock", request->tenant(), result,
        absl::StrCat("slot=", request->slot_id(), " user=", v1::PinUser_Name(request->user())));
  return result;
}

grpc::Status AdminService::ListObjects(grpc::ServerContext*, const v1::TokenRequest* request,
                                       v1::ListObjectsReply* reply) {
  absl::Status status = [&]() -> absl::Status {
    HSM_ASSIGN_OR_RETURN(storage::Tenant tenant, FindTenant(request->tenant()));
    HSM_RETURN_IF_ERROR(FindToken(tenant, request->slot_id()).status());
    return c_.objects->Scan({tenant.id(), request->slot_id()}, [&](uint64_t id, const AttributeSet& plain) {
      v1::ObjectSummary* summary = reply->add_objects();
      summary->set_handle(id);
      summary->set_object_class(UlongOf(plain, CKA_CLASS, 0));
      summary->set_key_type(UlongOf(plain, CKA_KEY_TYPE, 0));
      const std::string* label = BytesOf(plain, CKA_LABEL);
      const std::string* object_id = BytesOf(plain, CKA_ID);
      summary->set_label(label != nullptr ? *label : "");
      summary->set_id_hex(object_id != nullptr ? absl::BytesToHexString(*object_id) : "");
      summary->set_is_private(BoolOf(plain, CKA_PRIVATE, false));
      summary->set_sensitive(BoolOf(plain, CKA_SENSITIVE, false));
      summary->set_extractable(BoolOf(plain, CKA_EXTRACTABLE, false));
    });
  }();
  return ToGrpc(status);
}

grpc::Status AdminService::AuditTail(grpc::ServerContext*, const v1::AuditTailRequest* request,
                                     v1::AuditTailReply* reply) {
  if (c_.audit == nullptr) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no audit log");
  for (const std::string& line : c_.audit->Tail(request->lines() == 0 ? 20 : request->lines())) {
    reply->add_lines(line);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::AuditVerify(grpc::ServerContext*, const v1::AuditVerifyRequest*,
                                       v1::AuditVerifyReply* reply) {
  if (c_.audit == nullptr) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no audit log");
  AuditVerification result = AuditLog::Verify(c_.audit->path());
  reply->set_intact(result.intact);
  reply->set_records(result.records);
  reply->set_bad_line(result.bad_line);
  reply->set_problem(result.problem);
  return grpc::Status::OK;
}

grpc::Status AdminService::Backup(grpc::ServerContext*, const v1::BackupRequest* request, v1::BackupReply* reply) {
  absl::Status status = [&]() -> absl::Status {
    const std::string& destination = request->destination();
    if (destination.empty() || destination[0] != '/') {
      return absl::InvalidArgumentError("the backup destination must be an absolute path");
    }
    if (mkdir(destination.c_str(), 0700) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create ", destination, " (it must not exist yet)"));
    }
    HSM_RETURN_IF_ERROR(c_.env->CopyTo(destination));
    reply->set_path(destination + "/data.mdb");
    struct stat st;
    if (stat(reply->path().c_str(), &st) == 0) reply->set_bytes(st.st_size);
    return absl::OkStatus();
  }();
  grpc::Status result = ToGrpc(status);
  Audit("backup", "", result, request->destination());
  return result;
}

}  // namespace hsm::server
