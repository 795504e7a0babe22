// p11bench --hold_sessions=N: opens N sessions and keeps them open for a
// while, so that a script can read what they cost the server (objects.sh
// reads hsmd's VmRSS).
#ifndef HSM_BENCH_HOLD_SESSIONS_H_
#define HSM_BENCH_HOLD_SESSIONS_H_

#include <cstddef>

#include "bench/scenario.h"
#include "bench/status.h"

namespace hsm::bench {

// Opens `count` read-write sessions, prints "holding N sessions" on stdout
// (flushed: the script waits for it), sleeps `seconds`, closes them.
Status HoldSessions(const Env& env, size_t count, double seconds);

}  // namespace hsm::bench

#endif  // HSM_BENCH_HOLD_SESSIONS_H_
