// The client library's messages go to stderr, prefixed so that the user of a
// PKCS #11 application can tell where they come from. Never PINs or keys.
#ifndef HSM_CLIENT_LOG_H_
#define HSM_CLIENT_LOG_H_

#include <string>

namespace hsm::client {

void LogError(const std::string& message);
// Only when HSM_PKCS11_DEBUG is set in the environment.
void LogDebug(const std::string& message);

}  // namespace hsm::client

#endif  // HSM_CLIENT_LOG_H_
