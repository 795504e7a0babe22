#include "server/log.h"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
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

void LogRepeatedError(std::string_view kind, std::string_view message, absl::Duration interval) {
  struct Seen {
    absl::Time last_logged = absl::InfinitePast();
    uint64_t left_out = 0;
  };
  static std::mutex mutex;
  static std::map<std::string, Seen, std::less<>> seen;
  uint64_t left_out = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = seen.find(kind);
    if (it == seen.end()) it = seen.emplace(std::string(kind), Seen()).first;
    const absl::Time now = absl::Now();
    if (now - it->second.last_logged < interval) {
      ++it->second.left_out;
      return;
    }
    it->second.last_logged = now;
    left_out = it->second.left_out;
    it->second.left_out = 0;
  }
  if (left_out == 0) {
    Write("ERROR", message);
  } else {
    Write("ERROR", std::string(message) + " (and " + std::to_string(left_out) + " more like it, not logged)");
  }
}

}  // namespace hsm::server
