#include "server/rv.h"

#include <cstdlib>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace hsm::server {
namespace {

constexpr char kRvPayload[] = "hsm.ck_rv";

}  // namespace

absl::Status RvError(CK_RV rv, std::string message) {
  absl::Status status(absl::StatusCode::kFailedPrecondition,
                      message.empty() ? absl::StrCat("CK_RV 0x", absl::Hex(rv)) : message);
  status.SetPayload(kRvPayload, absl::Cord(std::to_string(rv)));
  return status;
}

CK_RV ToRv(const absl::Status& status) {
  if (status.ok()) return CKR_OK;
  absl::optional<absl::Cord> payload = status.GetPayload(kRvPayload);
  if (payload.has_value()) {
    return static_cast<CK_RV>(std::strtoull(std::string(*payload).c_str(), nullptr, 10));
  }
  if (absl::IsResourceExhausted(status)) {  // storage without room (a full disk), or all object ids used
    LogRepeatedError("no room", absl::StrCat("no room, answered with CKR_DEVICE_MEMORY: ", status.message()));
    return CKR_DEVICE_MEMORY;
  }
  LogError(absl::StrCat("internal failure answered with CKR_DEVICE_ERROR: ", status.ToString()));
  return CKR_DEVICE_ERROR;
}

bool CarriesRv(const absl::Status& status, CK_RV rv) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRvPayload);
  return payload.has_value() && std::string(*payload) == std::to_string(rv);
}

}  // namespace hsm::server
