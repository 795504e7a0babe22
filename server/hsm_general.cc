// General-purpose functions: an application starts, keeps itself alive, ends.
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "server/hsm.h"
#include "server/log.h"
#include "server/rv.h"

namespace hsm::server {

uint64_t NewInstanceId() {
  uint64_t id = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof(id));
  return id;
}

absl::Status Hsm::Initialize(uint64_t tenant_id, const std::string& peer,
                             const v1::InitializeRequest& request, v1::InitializeReply* reply) {
  HSM_RETURN_IF_ERROR(CheckApplicationQuota(tenant_id));
  HSM_ASSIGN_OR_RETURN(std::vector<storage::Token> tokens, tokens_->ListTokens(tenant_id));
  std::vector<uint64_t> slot_ids;
  for (const storage::Token& token : tokens) slot_ids.push_back(token.slot_id());
  std::string who = absl::StrCat(request.hostname(), " pid ", request.pid(), " (", peer, ")");
  std::shared_ptr<Application> app = apps_->Register(tenant_id, std::move(slot_ids), who);
  reply->set_app(app->id());
  reply->set_server_instance(instance_id_);
  reply->mutable_server_version()->set_major(kVersionMajor);
  reply->mutable_server_version()->set_minor(kVersionMinor);
  reply->set_manufacturer(kManufacturer);
  reply->set_data_calls_close_sessions(true);
  reply->set_spare_sessions_allowed(!HasSessionQuota(tenant_id));
  reply->set_heartbeat_interval_ms(
      static_cast<uint64_t>(absl::ToInt64Milliseconds(apps_->idle_timeout() / 3)));
  return absl::OkStatus();
}

absl::Status Hsm::Finalize(Application& app, const v1::AppRequest&, v1::StatusReply*) {
  apps_->Remove(app.id());
  return absl::OkStatus();
}

absl::Status Hsm::Heartbeat(Application& app, const v1::AppRequest&, v1::StatusReply* reply) {
  // Finding the application marked it seen.
  reply->set_spare_sessions_allowed(!HasSessionQuota(app.tenant_id()));
  return absl::OkStatus();
}

}  // namespace hsm::server
