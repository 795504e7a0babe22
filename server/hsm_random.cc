// Random number generation from OpenSSL's DRBG. Needs a session, not a login.
#include <openssl/rand.h>

#include "server/hsm.h"
#include "server/rv.h"

namespace hsm::server {

// One reply stays well under gRPC's default 4 MiB message limit; the client
// library splits larger requests.
constexpr uint64_t kMaxRandomPerCall = 1 << 20;

absl::Status Hsm::SeedRandom(Application& app, const v1::SeedRandomRequest& request,
                             v1::StatusReply*) {
  HSM_RETURN_IF_ERROR(SessionCopy(app, request.session()).status());
  // Mixed into the DRBG as additional input; it never replaces OS entropy.
  RAND_seed(request.seed().data(), static_cast<int>(request.seed().size()));
  return absl::OkStatus();
}

absl::Status Hsm::GenerateRandom(Application& app, const v1::GenerateRandomRequest& request,
                                 v1::DataReply* reply) {
  HSM_RETURN_IF_ERROR(SessionCopy(app, request.session()).status());
  if (request.length() > kMaxRandomPerCall) return RvError(CKR_ARGUMENTS_BAD, "random too long");
  std::string* data = reply->mutable_data();
  data->resize(request.length());
  if (!data->empty() &&
      RAND_bytes(reinterpret_cast<unsigned char*>(data->data()), static_cast<int>(data->size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  reply->set_length(request.length());
  return absl::OkStatus();
}

}  // namespace hsm::server
