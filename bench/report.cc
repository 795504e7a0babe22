#include "bench/report.h"

#include <algorithm>
#include <cstdio>

namespace hsm::bench {
namespace {

double PercentileUs(const std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least `fraction` of the samples
  // at or below it.
  size_t rank = static_cast<size_t>(fraction * sorted.size() + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1] / 1000.0;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Summary Summarize(std::vector<int64_t>& latencies_ns, double seconds) {
  std::sort(latencies_ns.begin(), latencies_ns.end());
  Summary summary;
  summary.ops = latencies_ns.size();
  summary.seconds = seconds;
  summary.ops_per_second = seconds > 0 ? summary.ops / seconds : 0;
  summary.p50 = PercentileUs(latencies_ns, 0.50);
  summary.p90 = PercentileUs(latencies_ns, 0.90);
  summary.p99 = PercentileUs(latencies_ns, 0.99);
  summary.max = latencies_ns.empty() ? 0 : latencies_ns.back() / 1000.0;
  return summary;
}

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ReadableLine(const RunInfo& info, const Summary& s) {
  return info.scenario + " threads=" + std::to_string(info.threads) + " ops=" + std::to_string(s.ops) + " in " +
         Fixed(s.seconds, 2) + " s: " + Fixed(s.ops_per_second, 1) + " ops/s, latency us p50 " + Fixed(s.p50, 1) +
         " p90 " + Fixed(s.p90, 1) + " p99 " + Fixed(s.p99, 1) + " max " + Fixed(s.max, 1) + " (" +
         Basename(info.module) + ")";
}

std::string JsonLine(const RunInfo& info, const Summary& s, const std::string& extra) {
  return "{\"module\": " + JsonString(info.module) + ", \"scenario\": " + JsonString(info.scenario) +
         ", \"threads\": " + std::to_string(info.threads) + ", \"ops\": " + std::to_string(s.ops) +
         ", \"seconds\": " + Fixed(s.seconds, 3) + ", \"ops_per_s\": " + Fixed(s.ops_per_second, 1) +
         ", \"p50_us\": " + Fixed(s.p50, 1) + ", \"p90_us\": " + Fixed(s.p90, 1) + ", \"p99_us\": " +
         Fixed(s.p99, 1) + ", \"max_us\": " + Fixed(s.max, 1) + extra + "}";
}

}  // namespace hsm::bench
