// The timed part of a benchmark: T threads, each with its own session, repeat
// a scenario's operation until the time is up, the operation budget is
// spent, the scenario runs out of work, or an operation fails.
#ifndef HSM_BENCH_RUNNER_H_
#define HSM_BENCH_RUNNER_H_

#include <cstdint>
#include <vector>

#include "bench/scenario.h"
#include "bench/status.h"

namespace hsm::bench {

struct RunOptions {
  int threads = 1;
  double seconds = 5;
  uint64_t max_ops = 0;  // 0: no budget, only the time limit
};

struct RunResult {
  std::vector<int64_t> latencies_ns;  // one per completed operation
  double seconds = 0;                 // from the common start to the last thread's stop
  Status failure;                     // the first failed operation, if any
};

RunResult RunTimed(Scenario& scenario, const Env& env, const RunOptions& options);

}  // namespace hsm::bench

#endif  // HSM_BENCH_RUNNER_H_
