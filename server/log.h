// hsmd's log: one line per event on stderr, with a UTC timestamp. Callers
// never pass PINs or key material.
#ifndef HSM_SERVER_LOG_H_
#define HSM_SERVER_LOG_H_

#include <string_view>

#include "absl/time/time.h"

namespace hsm::server {

void LogInfo(std::string_view message);
void LogWarning(std::string_view message);
void LogError(std::string_view message);
// LogError for a failure that may repeat on every call for a while (a full
// disk): the first of `kind` is logged, then at most one every `interval`,
// saying how many were left out, so the log cannot fill a disk by itself.
void LogRepeatedError(std::string_view kind, std::string_view message, absl::Duration interval = absl::Seconds(10));

}  // namespace hsm::server

#endif  // HSM_SERVER_LOG_H_
