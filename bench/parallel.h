// Untimed bulk work (filling a token with objects, emptying it again) spread
// over several threads, each with its own session, since one session would
// pay every round trip in turn.
#ifndef HSM_BENCH_PARALLEL_H_
#define HSM_BENCH_PARALLEL_H_

#include <cstddef>
#include <functional>

#include "bench/scenario.h"
#include "bench/status.h"

namespace hsm::bench {

// Calls `body(session, i)` for every i in [0, count), on `threads` threads
// that take the next i as they go. Stops at the first failure and returns it.
Status ParallelFor(const Env& env, int threads, size_t count,
                   const std::function<Status(CK_SESSION_HANDLE session, size_t i)>& body);

}  // namespace hsm::bench

#endif  // HSM_BENCH_PARALLEL_H_
