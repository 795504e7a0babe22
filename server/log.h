// hsmd's log: one line per event on stderr, with a UTC timestamp. Callers
// never pass PINs or key material.
#ifndef HSM_SERVER_LOG_H_
#define HSM_SERVER_LOG_H_

#include <string_view>

namespace hsm::server {

void LogInfo(std::string_view message);
void LogWarning(std::string_view message);
void LogError(std::string_view message);

}  // namespace hsm::server

#endif  // HSM_SERVER_LOG_H_
