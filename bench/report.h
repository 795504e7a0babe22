// The figures of a run (throughput and latency percentiles) and how they are
// printed: one readable line for people, one JSON line for scripts.
#ifndef HSM_BENCH_REPORT_H_
#define HSM_BENCH_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace hsm::bench {

struct Summary {
  uint64_t ops = 0;
  double seconds = 0;  // wall time from the start signal to the last thread's stop
  double ops_per_second = 0;
  // Microseconds; nearest-rank percentiles.
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Sorts `latencies_ns` in place.
Summary Summarize(std::vector<int64_t>& latencies_ns, double seconds);

struct RunInfo {
  std::string module;  // the path given
  std::string scenario;
  int threads = 1;
};

// "rsa2048-sign threads=2 ops=1234 in 5.00 s: 246.8 ops/s, latency us p50 ... (libhsm_pkcs11.so)"
std::string ReadableLine(const RunInfo& info, const Summary& summary);
// {"scenario": ..., "ops_per_s": ..., "p50_us": ...<extra>}; `extra` is
// ", \"name\": value ..." or empty.
std::string JsonLine(const RunInfo& info, const Summary& summary, const std::string& extra);

// `value` with `decimals` digits after the point (no locale, no exponent).
std::string Fixed(double value, int decimals);
// A JSON string literal.
std::string JsonString(const std::string& text);

}  // namespace hsm::bench

#endif  // HSM_BENCH_REPORT_H_
