#include "server/log.h"

#include <cstdio>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hsm::server {
namespace {

void Write(const char* level, std::string_view message) {
  static std::mutex mutex;
  std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "%s hsmd %s: %.*s\n", stamp.c_str(), level,
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace

void LogInfo(std::string_view message) { Write("INFO", message); }
void LogWarning(std::string_view message) { Write("WARNING", message); }
void LogError(std::string_view message) { Write("ERROR", message); }

}  // namespace hsm::server
