#include "client/log.h"

#include <cstdio>
#include <cstdlib>

namespace hsm::client {

void LogError(const std::string& message) {
  std::fprintf(stderr, "libhsm_pkcs11: %s\n", message.c_str());
}

void LogDebug(const std::string& message) {
  static const bool enabled = std::getenv("HSM_PKCS11_DEBUG") != nullptr;
  if (enabled) std::fprintf(stderr, "libhsm_pkcs11 debug: %s\n", message.c_str());
}

}  // namespace hsm::client
