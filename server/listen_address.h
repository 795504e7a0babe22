// --listen=HOST:PORT parsing, and whether HOST is a loopback address (plain
// text gRPC is allowed only there).
#ifndef HSM_SERVER_LISTEN_ADDRESS_H_
#define HSM_SERVER_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"

namespace hsm::server {

struct ListenAddress {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& text);
bool IsLoopbackHost(const std::string& host);

}  // namespace hsm::server

#endif  // HSM_SERVER_LISTEN_ADDRESS_H_
